"""segkit: the Python step of the segmentation warehouse."""
__version__ = "0.1.0"
