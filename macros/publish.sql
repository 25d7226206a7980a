{#- Publishing (README "Connecting a BI tool", docs/DESIGN.md "Publishing").

    dbt writes and tests the build database (profiles.yml `path`). This on-run-end hook
    publishes it for BI tools only when the invocation was a full `dbt build` and every
    node passed: it makes a temporary file beside the published warehouse, in the
    profile's storage_compatibility_version, from the build database (a copy of its file,
    or its definitions then the published tables' rows: see "How the published file is
    made" below), drops what is not published (leftover __dbt_tmp / __dbt_backup tables,
    tables of removed models, test-failure tables, models configured meta published:
    false, schemas outside var('publish_schemas')), detaches it and lets the
    segkit.publish plugin rename it over the published file (os.replace: readers holding
    the old file keep it, new connections get the new one).
    Anything else (a failed, skipped or partial build, `dbt run`, var publish false)
    publishes nothing and says why. -#}

{% macro publish_warehouse(results) -%}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {%- set blocker = publish_blocker(results) -%}
  {%- if blocker -%}
    {%- if flags.WHICH in ['build', 'run', 'seed', 'snapshot'] -%}
      {{ log("Warehouse not published: " ~ blocker ~ ". BI tools keep the previous warehouse.", info=True) }}
    {%- else -%}
      {{ log("Warehouse not published: " ~ blocker ~ ".", info=False) }}
    {%- endif -%}
    {{ return('') }}
  {%- endif -%}

  {%- set started = modules.datetime.datetime.now() -%}
  {%- set plan = fromjson(run_query("select segments_publish_begin()").columns[0].values()[0]) -%}
  {%- set carried = publish_carried_tables() -%}
  {%- if plan.carried is not none and plan.carried != carried -%}
    {{ exceptions.raise_compiler_error(
         "Warehouse not published: var('publish_carried_tables') is " ~ tojson(carried)
         ~ " but the build started from " ~ tojson(plan.carried)
         ~ " (the segkit.publish plugin reads it from --vars or dbt_project.yml vars only: set it there, not in dataset_settings).") }}
  {%- endif -%}
  {%- set build_db = run_query("select current_database()").columns[0].values()[0] -%}
  {%- set version = run_query("select current_setting('storage_compatibility_version')").columns[0].values()[0] -%}
  {%- set pub = 'segments_publish' -%}

  {#- keep exactly the project's published relations (+ carried tables), in the published schemas -#}
  {%- set keep = publish_expected_relations() + carried -%}
  {%- set schemas = var('publish_schemas', none) -%}
  {%- if schemas is not none -%}{%- set schemas = schemas | map('lower') | list -%}{%- endif -%}

  {#- How the published file is made. By file: the build database is checkpointed and the
      file copied (a few seconds at a million customers), then what is not published is
      dropped from the copy. By rows: the definitions are copied into a new file, what is
      not published is dropped while empty, then only the published tables' rows are
      inserted (about 45 s at a million customers). The rows path is taken when the build
      database holds a large share that is not published (dropped tables' blocks would stay
      in a copied file as free space; the raw load cache of folder inputs has its own file
      for this reason, files_raw in macros/file_inputs.sql, so this is leftovers such as a
      build database from before that change) or is in another storage version. -#}
  {%- set tables = run_query(
        "select lower(schema_name || '.' || table_name), cast(estimated_size as hugeint) * column_count"
        ~ " from duckdb_tables() where database_name = '" ~ build_db ~ "'") -%}
  {%- set cells = {'all': 0, 'left_out': 0} -%}
  {%- for row in tables.rows -%}
    {%- do cells.update({'all': cells['all'] + row[1]}) -%}
    {%- if not publish_keeps(row[0], keep, schemas) -%}
      {%- do cells.update({'left_out': cells['left_out'] + row[1]}) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- set build_version = run_query("select tags['storage_version'] from duckdb_databases() where database_name = '" ~ build_db ~ "'").columns[0].values()[0] -%}
  {%- set how = 'rows' -%}
  {%- set why = '' -%}
  {%- if (build_version or '') | replace('+', '') != version -%}
    {%- set why = 'the build database is storage ' ~ build_version ~ ', not ' ~ version -%}
  {%- elif cells['left_out'] > 0.1 * cells['all'] -%}
    {%- set why = "%.0f%% of the build database's cells are not published (listed below; drop them from the build database, or delete it: the next build makes it again from the published warehouse)" | format(100.0 * cells['left_out'] / cells['all']) -%}
  {%- else -%}
    {%- do run_query("checkpoint") -%}
    {%- set copied = run_query("select segments_publish_copy(" ~ publish_literal(plan.tmp) ~ ")").columns[0].values()[0] -%}
    {%- if copied == '' -%}{%- set how = 'file' -%}{%- else -%}{%- set why = copied -%}{%- endif -%}
  {%- endif -%}

  {%- if how == 'file' -%}
    {%- do run_query("attach " ~ publish_literal(plan.tmp) ~ " as " ~ pub) -%}
  {%- else -%}
    {%- do run_query("attach " ~ publish_literal(plan.tmp) ~ " as " ~ pub ~ " (storage_version " ~ publish_literal(version) ~ ")") -%}
    {#- the definitions first (tables, views, comments, constraints), no rows: what is
        not published is dropped while it is empty, and only the published tables' rows
        are copied -#}
    {%- do run_query('copy from database "' ~ build_db ~ '" to ' ~ pub ~ ' (schema)') -%}
  {%- endif -%}

  {%- set objects = run_query(
        "select schema_name, table_name, 'table' from duckdb_tables() where database_name = '" ~ pub ~ "'"
        ~ " union all select schema_name, view_name, 'view' from duckdb_views() where database_name = '" ~ pub ~ "' and not internal"
        ~ " order by 3 desc, 1, 2") -%}
  {%- set dropped = [] -%}
  {%- for row in objects.rows -%}
    {%- set name = (row[0] ~ '.' ~ row[1]) | lower -%}
    {%- if not publish_keeps(name, keep, schemas) -%}
      {%- do run_query("drop " ~ row[2] ~ " " ~ pub ~ '."' ~ row[0] ~ '"."' ~ row[1] ~ '"') -%}
      {%- do dropped.append(name) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- set left = run_query(
        "select s.schema_name from duckdb_schemas() s where s.database_name = '" ~ pub ~ "' and not s.internal"
        ~ " and s.schema_name <> 'main' and not exists (select 1 from duckdb_tables() t where t.database_name = s.database_name and t.schema_name = s.schema_name)"
        ~ " and not exists (select 1 from duckdb_views() v where v.database_name = s.database_name and v.schema_name = s.schema_name)") -%}
  {%- for row in left.rows -%}
    {%- do run_query("drop schema " ~ pub ~ '."' ~ row[0] ~ '"') -%}
  {%- endfor -%}
  {%- set published_tables = run_query(
        "select schema_name, table_name from duckdb_tables() where database_name = '" ~ pub ~ "' order by 1, 2") -%}
  {%- if how == 'rows' -%}
    {%- for row in published_tables.rows -%}
      {%- set name = '"' ~ row[0] ~ '"."' ~ row[1] ~ '"' -%}
      {%- do run_query("insert into " ~ pub ~ "." ~ name ~ " select * from \"" ~ build_db ~ "\"." ~ name) -%}
    {%- endfor -%}
  {%- endif -%}
  {%- set counts = run_query(
        "select count(*) filter (where schema_name = 'main'), count(*) from duckdb_tables() where database_name = '" ~ pub ~ "'").rows[0] -%}
  {%- do run_query("detach " ~ pub) -%}

  {%- set committed = run_query("select segments_publish_commit(" ~ publish_literal(plan.tmp) ~ ")").columns[0].values()[0] -%}
  {%- set seconds = (modules.datetime.datetime.now() - started).total_seconds() -%}
  {{ log("Published warehouse " ~ plan.published ~ ": " ~ counts[0] ~ " tables in main, " ~ counts[1] ~ " in all (storage " ~ version ~ ", by " ~ how ~ (": " ~ why if why else "") ~ ", "
         ~ "%.1f" | format(seconds) ~ "s; " ~ committed ~ ")", info=True) }}
  {%- if dropped -%}
    {{ log("  left out of the published warehouse (not project relations): " ~ dropped | join(', '), info=True) }}
  {%- endif -%}
  {%- for line in plan.carried_report -%}
    {{ log("  carried state: " ~ line, info=True) }}
  {%- endfor -%}
  {{ return('') }}
{%- endmacro %}


{#- Why this invocation must not publish ('' = it may). -#}
{% macro publish_blocker(results) -%}
  {%- set publish = var('publish', true) -%}
  {%- if publish is not sameas true and publish is not sameas false -%}
    {{ exceptions.raise_compiler_error("var('publish'): expected true or false, got " ~ tojson(publish) ~ ". Fix: --vars '{publish: false}' to build without publishing.") }}
  {%- endif -%}
  {%- set args = invocation_args_dict -%}
  {%- if not publish -%}
    {{ return("var publish is false") }}
  {%- elif flags.WHICH != 'build' -%}
    {{ return("only a full `dbt build` publishes (this was `dbt " ~ flags.WHICH ~ "`)") }}
  {#- leaving out only the unit tests (--exclude-resource-type unit_test, as dbt advises for
      production builds) still builds and data-tests the whole warehouse: unit tests run on
      their own fixtures and write nothing the warehouse keeps -#}
  {%- elif args.get('select') or args.get('exclude') or args.get('selector') or args.get('resource_types')
        or (args.get('exclude_resource_types') or []) | reject('equalto', 'unit_test') | list -%}
    {{ return("a partial build (--select / --exclude / --selector / --resource-type / --exclude-resource-type other than unit_test) is not a whole warehouse") }}
  {%- elif args.get('empty') -%}
    {{ return("an --empty build has no rows") }}
  {%- endif -%}
  {%- set bad = [] -%}
  {%- for result in results -%}
    {%- if result.status | string | lower not in ['success', 'pass', 'warn', 'no-op'] -%}
      {%- do bad.append(result.node.resource_type ~ " " ~ result.node.name ~ " " ~ (result.status | string | lower)) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if bad -%}
    {{ return(bad | length ~ " node(s) did not pass (" ~ (bad[:5] | join(', ')) ~ (', ...' if bad | length > 5 else '') ~ ")") }}
  {%- elif results | length == 0 -%}
    {{ return("nothing was built") }}
  {%- endif -%}
  {{ return('') }}
{%- endmacro %}


{#- Whether the relation schema.name (lower case) is published: a project relation (or
    carried table) in keep, in one of the published schemas (none: every schema). -#}
{% macro publish_keeps(name, keep, schemas) -%}
  {{- return(name in keep and (schemas is none or name.split('.')[0] in schemas)) -}}
{%- endmacro %}


{#- schema.name (lower case) of every relation the project builds and publishes: a
    model configured meta {published: false} stays in the build database (the raw load
    cache of a folder input, files_raw in macros/file_inputs.sql). -#}
{% macro publish_expected_relations() -%}
  {%- set names = [] -%}
  {%- for node in graph.nodes.values() -%}
    {%- if node.resource_type in ['model', 'seed', 'snapshot'] and node.config.materialized != 'ephemeral'
          and (node.config.meta or {}).get('published', true) is not sameas false -%}
      {%- do names.append((node.schema ~ '.' ~ (node.alias or node.name)) | lower) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(names) }}
{%- endmacro %}


{#- var('publish_carried_tables') as schema.table (lower case; schema defaults to main). -#}
{% macro publish_carried_tables() -%}
  {%- set names = [] -%}
  {%- for item in var('publish_carried_tables', []) or [] -%}
    {%- set parts = (item | string | trim | lower).split('.') -%}
    {%- do names.append(parts | join('.') if parts | length > 1 else 'main.' ~ parts[0]) -%}
  {%- endfor -%}
  {{ return(names) }}
{%- endmacro %}


{% macro publish_literal(text) -%}
  {{- return("'" ~ (text | string | replace("'", "''")) ~ "'") -}}
{%- endmacro %}
