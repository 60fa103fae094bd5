"""GoogleSQL -> DuckDB: parse a BigQuery script with sqlglot, qualify `project.dataset.table` names into DuckDB
catalog.schema.table, and rewrite what sqlglot leaves BigQuery-specific (NUMERIC precision, CAST to STRING
formatting, `INSERT ROW`, column/table OPTIONS, PARTITION BY, external tables, CREATE/DROP SCHEMA).

The result is a list of `Statement`s that `jobs` executes; nothing here touches a database."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError

from .errors import BigQueryError, invalid_query, unsupported
from .types import quote_ident

logging.getLogger("sqlglot").setLevel(logging.ERROR)

_DROP_EXTERNAL = re.compile(r"\bDROP\s+EXTERNAL\s+TABLE\b", re.IGNORECASE)
_TOKEN = re.compile(r"<Token token_type: [^,]+, text: (.*?), line: \d+, col: \d+.*?>")
_STRING_TYPES = {exp.DataType.Type.TEXT, exp.DataType.Type.VARCHAR}


@dataclass(frozen=True)
class TableRef:
    """A fully qualified BigQuery table."""

    project: str
    dataset: str
    table: str

    def duck(self) -> str:
        return ".".join(quote_ident(p) for p in (self.project, self.dataset, self.table))

    def bq_id(self) -> str:
        return f"{self.project}:{self.dataset}.{self.table}"

    def api(self) -> dict[str, str]:
        return {"projectId": self.project, "datasetId": self.dataset, "tableId": self.table}


@dataclass
class ExternalSpec:
    """CREATE EXTERNAL TABLE: declared columns (name, DuckDB type) and the OPTIONS(...) values."""

    columns: list[tuple[str, str]]
    options: dict[str, Any]


@dataclass
class Statement:
    """One statement of a script, ready to run on DuckDB (or a catalog action when `sql` is None)."""

    kind: str
    sql: str | None
    text: str
    line: int = 1
    target: TableRef | None = None
    returns_rows: bool = False
    replace: bool = False
    if_not_exists: bool = False
    if_exists: bool = False
    object_kind: str = "TABLE"
    table_meta: dict[str, Any] = field(default_factory=dict)
    external: ExternalSpec | None = None
    dataset: tuple[str, str] | None = None
    cascade: bool = False
    renamed_to: str | None = None
    export: dict[str, Any] | None = None
    reads: set[TableRef] = field(default_factory=set)
    projects: set[str] = field(default_factory=set)


def translate(script: str, project: str, default_dataset: tuple[str, str] | None,
              params: list[dict[str, Any]] | None = None) -> list[Statement]:
    """Parse `script` (GoogleSQL) into executable statements for the job's `project`."""
    source = _DROP_EXTERNAL.sub("DROP TABLE", script)
    try:
        trees = sqlglot.parse(source, read="bigquery")
    except ParseError as err:
        first = err.errors[0] if err.errors else {}
        line, col = first.get("line", 1), first.get("col", 1)
        description = _TOKEN.sub(lambda m: repr(m.group(1)), str(first.get("description", err)).split(". Line")[0])
        raise invalid_query(f"Syntax error: {description} at [{line}:{col}]", f"query:{line}:{col}") from None
    except SqlglotError as err:
        raise invalid_query(f"Syntax error: {str(err).splitlines()[0]}") from None
    statements = []
    state = _Script(params or [])
    for tree in trees:
        if tree is None:
            continue
        statements.append(_Translator(project, default_dataset, state).statement(tree))
    if not statements:
        raise invalid_query("Syntax error: Unexpected end of script at [1:1]")
    return statements


@dataclass
class _Script:
    """State shared by the statements of one script: parameters (`?` numbered across it) and temp tables."""

    params: list[dict[str, Any]]
    positional: int = 0
    temp_tables: set[str] = field(default_factory=set)


class _Translator:
    def __init__(self, project: str, default_dataset: tuple[str, str] | None, script: _Script):
        self.project = project
        self.default_dataset = default_dataset
        self.script = script
        self.params = script.params
        self.reads: set[TableRef] = set()
        self.projects: set[str] = {project}

    def statement(self, tree: exp.Expr) -> Statement:
        text = tree.sql("bigquery")
        if isinstance(tree, exp.Create | exp.Drop) and str(tree.args.get("kind", "")).upper() == "SCHEMA":
            return self._schema_statement(tree, text)
        if isinstance(tree, exp.Command):
            raise unsupported(f"Statement '{text[:60]}'")
        if isinstance(tree, exp.Create) and _is_temporary(tree):
            return self._temp_table(tree, text)
        target = self._qualify(tree)
        self._rewrite(tree)
        if isinstance(tree, exp.Query):
            _name_anonymous_columns(tree)
            return self._make("SELECT", tree, text, returns_rows=True)
        if isinstance(tree, exp.Create):
            return self._create(tree, text, target)
        if isinstance(tree, exp.Drop):
            kind = str(tree.args.get("kind", "TABLE")).upper()
            return self._make(f"DROP_{kind}", tree, text, target=target, if_exists=bool(tree.args.get("exists")),
                              object_kind=kind)
        if isinstance(tree, exp.Alter):
            return self._alter(tree, text, target)
        if isinstance(tree, exp.Export):
            props = tree.args.get("options")
            options = _options(list(props.expressions) if props else [])
            if not options.get("uri"):
                raise invalid_query("EXPORT DATA requires OPTIONS(uri='gs://...')")
            if isinstance(tree.this, exp.Query):
                _name_anonymous_columns(tree.this)
            return self._make("EXPORT_DATA", tree.this, text, export=options)
        simple = {exp.Insert: "INSERT", exp.Update: "UPDATE", exp.Delete: "DELETE", exp.Merge: "MERGE",
                  exp.TruncateTable: "TRUNCATE_TABLE"}
        for cls, kind in simple.items():
            if isinstance(tree, cls):
                return self._make(kind, tree, text, target=target)
        raise unsupported(f"Statement type {type(tree).__name__.upper()}")

    def _temp_table(self, tree: exp.Create, text: str) -> Statement:
        """CREATE TEMP TABLE: a DuckDB temporary table of the job's connection, gone when the script ends."""
        table = self._target_node(tree)
        if table is None or table.args.get("db"):
            raise invalid_query("Temporary tables must not be qualified with a dataset")
        name = table.name
        self.script.temp_tables.add(name.lower())
        self._qualify(tree, skip=table)
        self._column_options(tree)
        props = tree.args.get("properties")
        keep = [p for p in (props.expressions if props else []) if isinstance(p, exp.TemporaryProperty)]
        tree.set("properties", exp.Properties(expressions=keep))
        self._rewrite(tree)
        return self._make("CREATE_TEMP_TABLE", tree, text)

    def _alter(self, tree: exp.Alter, text: str, target: TableRef | None) -> Statement:
        if str(tree.args.get("kind", "TABLE")).upper() != "TABLE":
            raise unsupported(f"ALTER {tree.args.get('kind')}")
        actions = list(tree.args.get("actions") or [])
        meta: dict[str, Any] = {}
        renamed_to = None
        for action in actions:
            if isinstance(action, exp.AlterSet):
                for prop in action.find_all(exp.Property):
                    if prop.name.lower() == "description" and prop.args.get("value") is not None:
                        meta["description"] = _python_value(prop.args["value"])
            elif isinstance(action, exp.AlterRename):
                renamed_to = action.this.name
        if any(isinstance(a, exp.AlterSet) for a in actions):
            if len(actions) > 1:
                raise unsupported("ALTER TABLE SET OPTIONS combined with other actions")
            return self._make("ALTER_TABLE", None, text, target=target, table_meta=meta)
        return self._make("ALTER_TABLE", tree, text, target=target, renamed_to=renamed_to)

    def _make(self, kind: str, tree: exp.Expr | None, text: str, **kw: Any) -> Statement:
        sql = tree.sql("duckdb") if tree is not None else None
        return Statement(kind=kind, sql=sql, text=text, reads=self.reads, projects=self.projects, **kw)

    # --- names -------------------------------------------------------------------------------------------
    def _qualify(self, tree: exp.Expr, skip: exp.Table | None = None) -> TableRef | None:
        """Qualify every table name; returns the statement's target table (DDL/DML), if any."""
        ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)} | self.script.temp_tables
        target_node = self._target_node(tree)
        target: TableRef | None = None
        for table in list(tree.find_all(exp.Table)):
            if table is skip or not isinstance(table.this, exp.Identifier) \
                    or isinstance(table.parent, exp.AlterRename):
                continue
            if table.name.upper().startswith("INFORMATION_SCHEMA."):
                self._information_schema(table)
                continue
            if not table.args.get("db") and table.name.lower() in ctes:
                continue
            ref = self._resolve(table)
            table.set("catalog", exp.to_identifier(ref.project, quoted=True))
            table.set("db", exp.to_identifier(ref.dataset, quoted=True))
            table.set("this", exp.to_identifier(ref.table, quoted=True))
            self.projects.add(ref.project)
            if table is target_node:
                target = ref
            else:
                self.reads.add(ref)
        return target

    def _information_schema(self, table: exp.Table) -> None:
        """`dataset.INFORMATION_SCHEMA.TABLES|COLUMNS` -> a subquery over DuckDB's catalog functions."""
        view = table.name.split(".", 1)[1].upper()
        catalog, db = table.args.get("catalog"), table.args.get("db")
        if db is None or not db.name:
            raise unsupported("Region-qualified INFORMATION_SCHEMA")
        project, dataset = (catalog.name if catalog is not None and catalog.name else self.project), db.name
        if view not in _INFORMATION_SCHEMA:
            raise unsupported(f"INFORMATION_SCHEMA.{view}")
        self.projects.add(project)
        sql = _INFORMATION_SCHEMA[view].format(project=_sql_string(project), dataset=_sql_string(dataset),
                                               meta=f"{quote_ident(project)}.{quote_ident(META_SCHEMA)}.tables")
        alias = table.alias or view
        table.replace(exp.Subquery(this=sqlglot.parse_one(sql, read="duckdb"),
                                   alias=exp.TableAlias(this=exp.to_identifier(alias))))

    @staticmethod
    def _target_node(tree: exp.Expr) -> exp.Table | None:
        node = tree.this if isinstance(tree, exp.Create | exp.Drop | exp.Insert | exp.Merge | exp.Update
                                       | exp.Delete | exp.TruncateTable | exp.Alter) else None
        if isinstance(tree, exp.TruncateTable) and tree.expressions:
            node = tree.expressions[0]
        if isinstance(tree, exp.Drop) and tree.args.get("tables"):
            node = tree.args["tables"][0]
        if isinstance(node, exp.Schema):
            node = node.this
        return node if isinstance(node, exp.Table) else None

    def _resolve(self, table: exp.Table) -> TableRef:
        parts: list[str] = []
        for key in ("catalog", "db", "this"):
            node = table.args.get(key)
            if node is not None and node.name:
                parts.extend(node.name.split("."))
        if len(parts) == 3:
            return TableRef(*parts)
        if len(parts) == 2:
            return TableRef(self.project, parts[0], parts[1])
        if len(parts) == 1 and self.default_dataset:
            return TableRef(self.default_dataset[0], self.default_dataset[1], parts[0])
        raise invalid_query(f'Table "{".".join(parts)}" must be qualified with a dataset (e.g. dataset.table).')

    # --- expressions ---------------------------------------------------------------------------------------
    def _rewrite(self, tree: exp.Expr) -> None:
        for node in list(tree.walk(bfs=False)):  # depth-first: `?` parameters in textual order
            if isinstance(node, exp.DataType):
                _fix_decimal(node)
            elif isinstance(node, exp.Cast) and node.to.this in _STRING_TYPES \
                    and not (isinstance(node.this, exp.Literal) and node.this.is_string):
                node.replace(exp.Anonymous(this="bq_string", expressions=[node.this]))
            elif isinstance(node, exp.Insert) and isinstance(node.this, exp.Var) and node.this.name.upper() == "ROW":
                node.set("this", exp.Star())
            elif isinstance(node, exp.Literal) and not node.is_string and any(c in node.this for c in ".eE") \
                    and not isinstance(node.parent, exp.DataTypeParam):
                node.replace(exp.Cast(this=node.copy(), to=exp.DataType.build("DOUBLE")))
            elif isinstance(node, exp.DateAdd | exp.DateSub) and not isinstance(node.parent, exp.Cast):
                _wrap_cast(node, "DATE")  # DuckDB's date + interval is a TIMESTAMP; BigQuery's DATE_ADD a DATE
            elif isinstance(node, exp.StrToTime) and not isinstance(node.parent, exp.Cast):
                _wrap_cast(node, "TIMESTAMPTZ")  # PARSE_TIMESTAMP gives a TIMESTAMP, not a DATETIME
            elif isinstance(node, exp.Div) and not node.args.get("safe"):
                # BigQuery raises on division by zero where DuckDB returns inf/NULL.
                node.replace(exp.Anonymous(this="bq_divide", expressions=[node.this, node.expression]))
            elif isinstance(node, exp.Parameter | exp.Placeholder):
                node.replace(self._parameter(node))

    def _parameter(self, node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Placeholder):
            if self.script.positional >= len(self.params):
                raise invalid_query("Query has more positional parameters (?) than queryParameters")
            param = self.params[self.script.positional]
            self.script.positional += 1
        else:
            name = node.name.lower()
            matches = [p for p in self.params if str(p.get("name", "")).lower() == name]
            if not matches:
                raise invalid_query(f"Query parameter '{node.name}' not found")
            param = matches[0]
        return _param_literal(param.get("parameterType", {}), param.get("parameterValue", {}))

    # --- DDL -----------------------------------------------------------------------------------------------
    def _create(self, tree: exp.Create, text: str, target: TableRef | None) -> Statement:
        kind = str(tree.args.get("kind", "")).upper()
        props = tree.args.get("properties")
        prop_list = list(props.expressions) if props else []
        external = any(isinstance(p, exp.ExternalProperty) for p in prop_list)
        meta: dict[str, Any] = {}
        descriptions = self._column_options(tree)
        if descriptions:
            meta["descriptions"] = descriptions
        common = {"target": target, "replace": bool(tree.args.get("replace")),
                  "if_not_exists": bool(tree.args.get("exists"))}
        if external:
            return self._make("CREATE_EXTERNAL_TABLE", None, text, object_kind="EXTERNAL", table_meta=meta,
                              external=ExternalSpec(self._columns(tree), _options(prop_list)), **common)
        keep = []
        for prop in prop_list:
            if isinstance(prop, exp.PartitionedByProperty):
                meta["timePartitioning"] = _partitioning(prop.this)
            elif isinstance(prop, exp.ClusterProperty):
                meta["clustering"] = {"fields": [c.name for c in prop.expressions]}
            elif isinstance(prop, exp.Property) and prop.name.lower() == "description":
                meta["description"] = _python_value(prop.args["value"])
            elif isinstance(prop, exp.Property | exp.LocationProperty):
                continue
            else:
                keep.append(prop)
        tree.set("properties", exp.Properties(expressions=keep) if keep else None)
        if kind == "VIEW":
            meta["view"] = {"query": tree.expression.sql("bigquery") if tree.expression else ""}
            return self._make("CREATE_VIEW", tree, text, object_kind="VIEW", table_meta=meta, **common)
        if kind != "TABLE":
            raise unsupported(f"CREATE {kind}")
        statement_kind = "CREATE_TABLE_AS_SELECT" if tree.expression else "CREATE_TABLE"
        return self._make(statement_kind, tree, text, table_meta=meta, **common)

    @staticmethod
    def _column_options(tree: exp.Create) -> dict[str, str]:
        """Strip `OPTIONS(...)` from column definitions; return the column descriptions."""
        descriptions: dict[str, str] = {}
        for column in tree.find_all(exp.ColumnDef):
            for constraint in list(column.constraints):
                if isinstance(constraint.kind, exp.Properties):
                    for prop in constraint.kind.expressions:
                        if isinstance(prop, exp.Property) and prop.name.lower() == "description":
                            descriptions[column.name] = str(_python_value(prop.args["value"]))
                    constraint.pop()
        return descriptions

    @staticmethod
    def _columns(tree: exp.Create) -> list[tuple[str, str]]:
        schema = tree.this
        if not isinstance(schema, exp.Schema):
            return []
        return [(c.name, c.args["kind"].sql("duckdb")) for c in schema.expressions if isinstance(c, exp.ColumnDef)]

    def _schema_statement(self, tree: exp.Create | exp.Drop, text: str) -> Statement:
        table = tree.find(exp.Table)
        parts: list[str] = []
        if table is not None:
            for key in ("catalog", "db", "this"):
                node = table.args.get(key)
                if node is not None and node.name:
                    parts.extend(node.name.split("."))
        if len(parts) not in (1, 2):
            raise invalid_query(f"Invalid dataset name in: {text[:80]}")
        dataset = (parts[0], parts[1]) if len(parts) == 2 else (self.project, parts[0])
        self.projects.add(dataset[0])
        if isinstance(tree, exp.Drop):
            return self._make("DROP_SCHEMA", None, text, dataset=dataset, if_exists=bool(tree.args.get("exists")),
                              cascade=bool(tree.args.get("cascade")))
        props = tree.args.get("properties")
        meta: dict[str, Any] = {}
        for prop in props.expressions if props else []:
            if isinstance(prop, exp.LocationProperty):
                meta["location"] = _python_value(prop.this)
            elif isinstance(prop, exp.Property) and prop.name.lower() in ("location", "description"):
                meta[prop.name.lower()] = _python_value(prop.args["value"])
        return self._make("CREATE_SCHEMA", None, text, dataset=dataset, table_meta=meta,
                          if_not_exists=bool(tree.args.get("exists")))


def _is_temporary(tree: exp.Create) -> bool:
    props = tree.args.get("properties")
    return props is not None and any(isinstance(p, exp.TemporaryProperty) for p in props.expressions)


def _wrap_cast(node: exp.Expr, type_name: str) -> None:
    """Replace `node` by CAST(node AS type), keeping the node itself (its subtree is still being rewritten)."""
    wrapper = exp.Cast(to=exp.DataType.build(type_name, dialect="duckdb"))
    node.replace(wrapper)
    wrapper.set("this", node)


def _name_anonymous_columns(tree: exp.Query) -> None:
    """BigQuery names unaliased result expressions f0_, f1_, ... (DuckDB would use the expression text)."""
    select = tree
    while isinstance(select, exp.SetOperation):
        select = select.this
    if not isinstance(select, exp.Select):
        return
    anonymous = 0
    for projection in list(select.expressions):
        if isinstance(projection, exp.Alias | exp.Column | exp.Star):
            continue
        projection.replace(exp.alias_(projection.copy(), f"f{anonymous}_"))
        anonymous += 1


META_SCHEMA = "__standin-meta"
_BQ_TYPE_SQL = ("CASE data_type WHEN 'VARCHAR' THEN 'STRING' WHEN 'BIGINT' THEN 'INT64' WHEN 'INTEGER' THEN 'INT64' "
                "WHEN 'DOUBLE' THEN 'FLOAT64' WHEN 'BOOLEAN' THEN 'BOOL' WHEN 'BLOB' THEN 'BYTES' "
                "WHEN 'TIMESTAMP WITH TIME ZONE' THEN 'TIMESTAMP' WHEN 'TIMESTAMP' THEN 'DATETIME' "
                "WHEN 'DECIMAL(38,9)' THEN 'NUMERIC' ELSE data_type END")
_INFORMATION_SCHEMA = {
    "TABLES": (
        "SELECT database_name AS table_catalog, schema_name AS table_schema, table_name, "
        "'BASE TABLE' AS table_type FROM duckdb_tables() "
        "WHERE database_name = {project} AND schema_name = {dataset} "
        "UNION ALL SELECT v.database_name, v.schema_name, v.view_name, "
        "CASE WHEN json_extract_string(m.meta, '$.type') = 'EXTERNAL' THEN 'EXTERNAL' ELSE 'VIEW' END "
        "FROM duckdb_views() AS v LEFT JOIN {meta} AS m ON m.dataset_id = v.schema_name "
        "AND m.table_id = v.view_name WHERE v.database_name = {project} AND v.schema_name = {dataset}"),
    "COLUMNS": (
        "SELECT database_name AS table_catalog, schema_name AS table_schema, table_name, column_name, "
        "column_index AS ordinal_position, CASE WHEN is_nullable THEN 'YES' ELSE 'NO' END AS is_nullable, "
        f"{_BQ_TYPE_SQL} AS data_type FROM duckdb_columns() "
        "WHERE database_name = {project} AND schema_name = {dataset}"),
}


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _fix_decimal(node: exp.DataType) -> None:
    """BigQuery NUMERIC is DECIMAL(38, 9); a bare DECIMAL in DuckDB would be DECIMAL(18, 3)."""
    if node.this == exp.DataType.Type.DECIMAL and not node.expressions:
        node.set("expressions", [exp.DataTypeParam(this=exp.Literal.number(38)),
                                 exp.DataTypeParam(this=exp.Literal.number(9))])
    elif node.this == exp.DataType.Type.BIGDECIMAL:
        node.set("this", exp.DataType.Type.DECIMAL)
        node.set("expressions", [exp.DataTypeParam(this=exp.Literal.number(38)),
                                 exp.DataTypeParam(this=exp.Literal.number(18))])


def _partitioning(expr: exp.Expr) -> dict[str, str]:
    unit = "DAY"
    column = expr.find(exp.Column)
    if isinstance(expr, exp.TimestampTrunc | exp.DateTrunc | exp.DatetimeTrunc | exp.TimestampTrunc):
        unit_node = expr.args.get("unit")
        unit = unit_node.name.upper() if unit_node is not None else "DAY"
    result = {"type": unit}
    if column is not None:
        result["field"] = column.name
    return result


def _python_value(node: exp.Expr) -> Any:
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        text = node.this
        return float(text) if any(c in text for c in ".eE") else int(text)
    if isinstance(node, exp.Array | exp.Tuple):
        return [_python_value(e) for e in node.expressions]
    if isinstance(node, exp.Neg):
        return -_python_value(node.this)
    if isinstance(node, exp.Null):
        return None
    return node.sql("bigquery")


def _options(props: list[exp.Expr]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for prop in props:
        if isinstance(prop, exp.FileFormatProperty):
            options["format"] = _python_value(prop.this) if prop.this is not None else "CSV"
        elif isinstance(prop, exp.Property) and prop.args.get("value") is not None:
            options[prop.name.lower()] = _python_value(prop.args["value"])
    return options


_PARAM_TYPES = {"INT64": "BIGINT", "INTEGER": "BIGINT", "FLOAT64": "DOUBLE", "FLOAT": "DOUBLE",
                "NUMERIC": "DECIMAL(38,9)", "BIGNUMERIC": "DECIMAL(38,18)", "BOOL": "BOOLEAN",
                "BOOLEAN": "BOOLEAN", "STRING": "VARCHAR", "BYTES": "BLOB", "DATE": "DATE", "DATETIME": "TIMESTAMP",
                "TIMESTAMP": "TIMESTAMPTZ", "TIME": "TIME", "JSON": "JSON"}


def _param_literal(ptype: dict[str, Any], pvalue: dict[str, Any]) -> exp.Expr:
    kind = str(ptype.get("type", "STRING")).upper()
    if kind == "ARRAY":
        items = pvalue.get("arrayValues") or []
        return exp.Array(expressions=[_param_literal(ptype.get("arrayType", {}), item) for item in items])
    if kind not in _PARAM_TYPES:
        raise BigQueryError(400, "invalidQuery", f"Unsupported query parameter type {kind}")
    value = pvalue.get("value")
    target = exp.DataType.build(_PARAM_TYPES[kind], dialect="duckdb")
    if value is None:
        return exp.Cast(this=exp.Null(), to=target)
    if kind == "BYTES":
        return exp.Anonymous(this="from_base64", expressions=[exp.Literal.string(str(value))])
    return exp.Cast(this=exp.Literal.string(str(value)), to=target)
