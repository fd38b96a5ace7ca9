"""Parse the ROS 2 YAML launch format (launch_yaml / launch_ros frontend) without the launch library.

Only the subset this project uses is supported; anything else raises ``LaunchError`` rather than
being silently ignored, so a launch file that works here does not surprise under ``ros2 launch``.
"""
from __future__ import annotations

import ast
import operator
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence, Union

import yaml

ParamValue = Union[bool, int, float, str, list]
PackageShares = Union[Mapping[str, str], Callable[[str], str], None]


class LaunchError(Exception):
    """A launch file is invalid or cannot be resolved."""


@dataclass
class NodeSpec:
    pkg: str
    exec: str
    name: str | None = None
    namespace: str = ""  # fully resolved, absolute ("/robot/arm") or "" for the root
    params: dict[str, ParamValue] = field(default_factory=dict)
    param_files: list[str] = field(default_factory=list)
    remaps: list[tuple[str, str]] = field(default_factory=list)
    respawn: bool = False
    respawn_delay: float = 0.0
    env: dict[str, str] = field(default_factory=dict)  # set_env in scope + node env
    args: list[str] = field(default_factory=list)  # extra argv before --ros-args
    extra_ros_args: list[str] = field(default_factory=list)  # node's `ros_args` attribute
    output: str = "log"

    @property
    def label(self) -> str:
        """Name used for log prefixes."""
        return self.name or self.exec

    def ros_args(self) -> list[str]:
        """``--ros-args`` block so the node gets name, namespace, params and remaps."""
        out = ["--ros-args"]
        if self.name:
            out += ["-r", f"__node:={self.name}"]
        if self.namespace and self.namespace != "/":
            out += ["-r", f"__ns:={self.namespace}"]
        for path in self.param_files:
            out += ["--params-file", path]
        for key, value in self.params.items():
            out += ["-p", f"{key}:={format_param(value)}"]
        for src, dst in self.remaps:
            out += ["-r", f"{src}:={dst}"]
        return out + list(self.extra_ros_args)

    def argv_tail(self) -> list[str]:
        """Everything after the executable path: extra args, then the ros args."""
        return list(self.args) + self.ros_args()


@dataclass
class LaunchDescription:
    args: dict[str, str] = field(default_factory=dict)  # declared args -> final values
    env: dict[str, str] = field(default_factory=dict)  # top-level (unscoped) set_env
    nodes: list[NodeSpec] = field(default_factory=list)


# ---------------------------------------------------------------- value typing / formatting

def typed_scalar(value: Any) -> bool | int | float | str:
    """Type a parameter value the way launch_ros does: substituted strings go through yaml.safe_load.

    So "true"/"yes"/"on" -> bool, "10" -> int, "0.5" -> float, "'10'" -> the string "10";
    anything YAML reads as a non-scalar (dates, null, mappings) stays the original text.
    """
    if isinstance(value, (bool, int, float)):
        return value
    text = str(value)
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return loaded if isinstance(loaded, (bool, int, float, str)) else text


def typed_value(value: Any) -> ParamValue:
    if isinstance(value, str) and value.lstrip().startswith("["):  # "[1, 2]" from a substitution
        try:
            loaded = yaml.safe_load(value)
        except yaml.YAMLError:
            loaded = None
        if isinstance(loaded, list):
            value = loaded
    if isinstance(value, (list, tuple)):
        items = [typed_scalar(v) for v in value]
        kinds = {type(v) for v in items}
        if kinds <= {bool} or kinds <= {str}:
            return items
        if kinds <= {int}:
            return items
        if kinds <= {int, float}:  # ROS arrays are homogeneous: promote to double
            return [float(v) for v in items]
        return [str(v) for v in value]
    if isinstance(value, dict):
        raise LaunchError(f"mapping is not a valid parameter value: {value!r}")
    return typed_scalar(value)


_YAML_SPECIAL = re.compile(r"""^[\s\-?:,\[\]{}#&*!|>'"%@`]|[:#]\s|\s$|^$|[,\[\]{}]""")


def _needs_quotes(text: str) -> bool:
    if _YAML_SPECIAL.search(text) or "\n" in text:
        return True
    # A string that YAML, or rcl's own strtol/strtod check ("1.5e3"), would read as another type
    # must be quoted to stay a string.
    try:
        float(text)
        return True
    except ValueError:
        return not isinstance(yaml.safe_load(text), str)


def format_param(value: ParamValue) -> str:
    """Format a value for ``-p name:=value`` so rcl's YAML parsing recovers the same type."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):  # YAML spellings of nan/inf
            return ".nan" if value != value else (".inf" if value > 0 else "-.inf")
        text = repr(value)
        return text if any(c in text for c in ".en") else text + ".0"
    if isinstance(value, list):
        return "[" + ", ".join(format_param(v) for v in value) + "]"
    text = str(value)
    if _needs_quotes(text):
        return "'" + text.replace("'", "''") + "'"
    return text


def _to_bool(text: Any, what: str) -> bool:
    if isinstance(text, bool):
        return text
    low = str(text).strip().lower()
    if low in ("true", "1"):
        return True
    if low in ("false", "0"):
        return False
    raise LaunchError(f"{what}: expected true/false/1/0, got {text!r}")


# ---------------------------------------------------------------- substitutions


@dataclass
class _Context:
    configs: dict[str, str]
    env: dict[str, str]  # set_env overrides in scope
    namespace: str
    environ: Mapping[str, str]
    shares: PackageShares
    base_dir: Path

    def copy(self) -> _Context:
        return _Context(dict(self.configs), dict(self.env), self.namespace, self.environ, self.shares,
                        self.base_dir)

    def getenv(self, name: str) -> str | None:
        return self.env[name] if name in self.env else self.environ.get(name)


def _split_args(body: str) -> list[str]:
    """Split substitution arguments on whitespace, honouring quotes and nested ``$( )``."""
    args, cur, depth, quote, i, started = [], [], 0, "", 0, False
    while i < len(body):
        c = body[i]
        if quote:
            if c == quote and depth == 0:
                quote = ""
            else:
                cur.append(c)
        elif body.startswith("$(", i):
            depth += 1
            cur.append("$(")
            started = True
            i += 2
            continue
        elif c == ")" and depth:
            depth -= 1
            cur.append(c)
        elif c in "'\"" and depth == 0:
            quote, started = c, True
        elif c.isspace() and depth == 0:
            if started:
                args.append("".join(cur))
                cur, started = [], False
        else:
            cur.append(c)
            started = True
        i += 1
    if quote:
        raise LaunchError(f"unterminated quote in substitution: $({body})")
    if started:
        args.append("".join(cur))
    return args


def _find_close(text: str, start: int) -> int:
    """Index of the ``)`` closing the ``$(`` whose body begins at ``start``."""
    depth, quote = 1, ""
    i = start
    while i < len(text):
        c = text[i]
        if quote:
            quote = "" if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == "(":  # bare parens count too, so $(eval max(1, 2)) works unquoted
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise LaunchError(f"unterminated substitution in {text!r}")


def substitute(text: str, ctx: _Context) -> str:
    """Resolve every ``$(...)`` in ``text``."""
    out, i = [], 0
    while True:
        j = text.find("$(", i)
        if j < 0:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i:j])
        end = _find_close(text, j + 2)
        out.append(_apply(text[j + 2:end], ctx))
        i = end + 1


def _apply(body: str, ctx: _Context) -> str:
    head, _, rest = body.strip().partition(" ")
    if head == "eval":
        # The expression keeps its own quotes; one outer quote pair (launch's usual style) is dropped.
        expr = rest.strip()
        if len(expr) >= 2 and expr[0] == expr[-1] and expr[0] in "'\"" and expr[0] not in expr[1:-1]:
            expr = expr[1:-1]
        return _eval(substitute(expr, ctx))
    parts = _split_args(body)
    if not parts:
        raise LaunchError("empty substitution $()")
    kind, args = parts[0], [substitute(a, ctx) for a in parts[1:]]
    if kind == "var":
        _arity(kind, args, 1, 1)
        if args[0] not in ctx.configs:
            raise LaunchError(f"$(var {args[0]}): no such launch argument or let")
        return ctx.configs[args[0]]
    if kind in ("env", "optenv"):
        _arity(kind, args, 1, 2)
        value = ctx.getenv(args[0])
        if value is not None:
            return value
        if len(args) == 2 or kind == "optenv":
            return args[1] if len(args) == 2 else ""
        raise LaunchError(f"$(env {args[0]}): environment variable not set and no default")
    if kind == "find-pkg-share":
        _arity(kind, args, 1, 1)
        return _find_share(args[0], ctx.shares)
    if kind in ("not", "and", "or"):
        bools = [_to_bool(a, f"$({kind})") for a in args]
        _arity(kind, args, 1 if kind == "not" else 2, 1 if kind == "not" else None)
        result = (not bools[0]) if kind == "not" else (all(bools) if kind == "and" else any(bools))
        return "true" if result else "false"
    if kind == "dirname":
        _arity(kind, args, 0, 0)
        return str(ctx.base_dir)
    raise LaunchError(f"unknown substitution $({body}); supported: var, env, optenv, "
                      "find-pkg-share, eval, not, and, or, dirname")


def _arity(kind: str, args: list[str], lo: int, hi: int | None) -> None:
    if len(args) < lo or (hi is not None and len(args) > hi):
        raise LaunchError(f"$({kind}) takes {lo}..{hi if hi is not None else 'n'} arguments, "
                          f"got {len(args)}: {args}")


def _find_share(pkg: str, shares: PackageShares) -> str:
    try:
        if callable(shares):
            return str(shares(pkg))
        if shares is not None and pkg in shares:
            return str(shares[pkg])
    except (KeyError, LookupError) as exc:
        raise LaunchError(f"$(find-pkg-share {pkg}): {exc}") from exc
    raise LaunchError(f"$(find-pkg-share {pkg}): package not in the supplied share mapping")


_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod}
_CMPOPS = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
           ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b,
           ast.NotIn: lambda a, b: a not in b}


def _eval(expr: str) -> str:
    """Evaluate trivial Python expressions (literals, arithmetic, comparisons, and/or/not)."""
    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            return [ev(e) for e in node.elts]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return _BINOPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub, ast.UAdd)):
            v = ev(node.operand)
            return not v if isinstance(node.op, ast.Not) else (-v if isinstance(node.op, ast.USub) else v)
        if isinstance(node, ast.BoolOp):
            vals = [ev(v) for v in node.values]
            return all(vals) if isinstance(node.op, ast.And) else any(vals)
        if isinstance(node, ast.Compare):
            left = ev(node.left)
            for op, comp in zip(node.ops, node.comparators):
                if type(op) not in _CMPOPS:
                    return _bad(op)
                right = ev(comp)
                if not _CMPOPS[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return ev(node.body) if ev(node.test) else ev(node.orelse)
        return _bad(node)

    def _bad(node: ast.AST) -> Any:
        raise LaunchError(f"$(eval {expr!r}): unsupported construct {type(node).__name__}")

    try:
        return str(ev(ast.parse(expr.strip(), mode="eval")))
    except SyntaxError as exc:
        raise LaunchError(f"$(eval {expr!r}): {exc.msg}") from exc
    except (TypeError, ZeroDivisionError) as exc:
        raise LaunchError(f"$(eval {expr!r}): {exc}") from exc


# ---------------------------------------------------------------- entity walking


def parse_cli_args(argv: Iterable[str]) -> dict[str, str]:
    """Turn ``["name:=value", ...]`` into a dict, as ``ros2 launch`` does.

    An empty value is refused, as ``ros2 launch`` refuses it: what a launch file lets a user
    switch off is a boolean argument, never an empty one.
    """
    out: dict[str, str] = {}
    for item in argv:
        name, sep, value = item.partition(":=")
        if not sep or not name:
            raise LaunchError(f"launch argument {item!r} is not of the form name:=value")
        if not value:
            raise LaunchError(f"launch argument {item!r} has an empty value, which ros2 launch refuses "
                              "too; leave the argument out for its default")
        out[name] = value
    return out


def _entities(raw: Any, where: str) -> list[tuple[str, dict]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise LaunchError(f"{where}: expected a list of entities, got {type(raw).__name__}")
    out = []
    for item in raw:
        if not isinstance(item, dict) or len(item) != 1:
            raise LaunchError(f"{where}: each entity must be a one-key mapping like '- node: {{...}}', "
                              f"got {item!r}")
        (kind, attrs), = item.items()
        if kind in ("group",) and isinstance(attrs, list):
            attrs = {"children": attrs}  # launch_yaml also accepts a bare list as children
        if attrs is None:
            attrs = {}
        if not isinstance(attrs, dict):
            raise LaunchError(f"{where}: '{kind}' attributes must be a mapping, got {attrs!r}")
        out.append((str(kind), attrs))
    return out


def _declared_args(raw: Any, where: str) -> list[str]:
    """All arg names in the file, including ones inside groups whose condition is false."""
    names = []
    for kind, attrs in _entities(raw, where):
        if kind == "arg" and "name" in attrs:
            names.append(str(attrs["name"]))
        elif kind == "group":
            names += _declared_args(attrs.get("children"), where)
    return names


def _text(attrs: dict, key: str, ctx: _Context, where: str, default: Any = None,
          required: bool = False) -> Any:
    if key not in attrs or attrs[key] is None:
        if required:
            raise LaunchError(f"{where}: missing required attribute '{key}'")
        return default
    value = attrs[key]
    if key == "name" and not isinstance(value, str):  # YAML 1.1 reads on/yes/no/1 as non-strings
        raise LaunchError(f"{where}: name {value!r} is not a string; quote it in the YAML")
    return substitute(value, ctx) if isinstance(value, str) else value


def _check_keys(kind: str, attrs: dict, allowed: set[str], where: str) -> None:
    unknown = set(attrs) - allowed - {"if", "unless"}
    if unknown:
        raise LaunchError(f"{where}: unsupported attribute(s) {sorted(unknown)} on '{kind}'")


def _enabled(attrs: dict, ctx: _Context, where: str) -> bool:
    if "if" in attrs and not _to_bool(_text(attrs, "if", ctx, where), f"{where}: if"):
        return False
    if "unless" in attrs and _to_bool(_text(attrs, "unless", ctx, where), f"{where}: unless"):
        return False
    return True


def _join_ns(base: str, ns: str) -> str:
    """Absolute namespaces replace the pushed one, relative ones nest under it (launch_ros rules)."""
    ns = ns.strip()
    full = ns if ns.startswith("/") else f"{base.rstrip('/')}/{ns}"
    full = "/" + "/".join(p for p in full.split("/") if p)
    return "" if full == "/" else full


class _Parser:
    def __init__(self, cli: Mapping[str, str], desc: LaunchDescription, source: str,
                 is_main: bool = True) -> None:
        self.cli = cli
        self.is_main = is_main
        self.desc = desc
        self.source = source

    def walk(self, raw: Any, ctx: _Context, top: bool) -> None:
        for idx, (kind, attrs) in enumerate(_entities(raw, self.source)):
            where = f"{self.source}: {kind} #{idx + 1}"
            if "name" in attrs and kind in ("arg", "let", "set_env", "node"):
                where = f"{self.source}: {kind} '{attrs['name']}'"
            handler = getattr(self, "_" + kind.replace("-", "_"), None)
            if handler is None:
                raise LaunchError(f"{where}: unsupported entity '{kind}'")
            if not _enabled(attrs, ctx, where):
                continue
            handler(attrs, ctx, where, top)

    def _arg(self, attrs: dict, ctx: _Context, where: str, top: bool) -> None:
        _check_keys("arg", attrs, {"name", "default", "description", "choices"}, where)
        name = str(_text(attrs, "name", ctx, where, required=True))
        if name in self.cli:
            value = self.cli[name]
        elif name in ctx.configs:  # set by an include's arg list or an earlier let
            value = ctx.configs[name]
        elif "default" in attrs:
            value = _stringify(_text(attrs, "default", ctx, where))
        else:
            raise LaunchError(f"launch argument '{name}' has no default and was not given "
                              f"(pass {name}:=VALUE)")
        choices = attrs.get("choices")
        if choices is not None and value not in [_stringify(c) for c in choices]:
            raise LaunchError(f"launch argument '{name}'={value!r} not in choices {choices}")
        ctx.configs[name] = value
        if self.is_main:
            self.desc.args[name] = value

    def _let(self, attrs: dict, ctx: _Context, where: str, top: bool) -> None:
        _check_keys("let", attrs, {"name", "value"}, where)
        name = str(_text(attrs, "name", ctx, where, required=True))
        ctx.configs[name] = _stringify(_text(attrs, "value", ctx, where, required=True))

    def _set_env(self, attrs: dict, ctx: _Context, where: str, top: bool) -> None:
        _check_keys("set_env", attrs, {"name", "value"}, where)
        name = str(_text(attrs, "name", ctx, where, required=True))
        value = _stringify(_text(attrs, "value", ctx, where, required=True))
        ctx.env[name] = value
        if top:
            self.desc.env[name] = value

    def _push_ros_namespace(self, attrs: dict, ctx: _Context, where: str, top: bool) -> None:
        _check_keys("push-ros-namespace", attrs, {"namespace"}, where)
        ctx.namespace = _join_ns(ctx.namespace, str(_text(attrs, "namespace", ctx, where, required=True)))

    def _group(self, attrs: dict, ctx: _Context, where: str, top: bool) -> None:
        _check_keys("group", attrs, {"scoped", "forwarding", "children"}, where)
        scoped = _to_bool(_text(attrs, "scoped", ctx, where, default=True), f"{where}: scoped")
        if not _to_bool(_text(attrs, "forwarding", ctx, where, default=True), f"{where}: forwarding"):
            # ros2 launch starts such a group with no launch configurations; not supported here.
            raise LaunchError(f"{where}: group 'forwarding: false' is not supported")
        if not scoped:
            self.walk(attrs.get("children"), ctx, top)
            return
        self.walk(attrs.get("children"), ctx.copy(), False)

    def _include(self, attrs: dict, ctx: _Context, where: str, top: bool) -> None:
        _check_keys("include", attrs, {"file", "arg"}, where)
        path = Path(str(_text(attrs, "file", ctx, where, required=True)))
        if not path.is_absolute():
            path = ctx.base_dir / path
        if path.suffix not in (".yaml", ".yml"):
            raise LaunchError(f"{where}: only YAML launch files can be included, got {path}")
        child = ctx.copy()
        for i, item in enumerate(attrs.get("arg") or []):
            w = f"{where} arg #{i + 1}"
            if not isinstance(item, dict):
                raise LaunchError(f"{w}: expected {{name, value}}")
            child.configs[str(_text(item, "name", ctx, w, required=True))] = _stringify(
                _text(item, "value", ctx, w, required=True))
        child.base_dir = path.parent
        raw = _load_yaml(path.read_text() if path.exists() else _missing(path, where), str(path))
        _Parser({}, self.desc, str(path), is_main=False).walk(raw, child, False)

    def _node(self, attrs: dict, ctx: _Context, where: str, top: bool) -> None:
        _check_keys("node", attrs, {"pkg", "exec", "name", "namespace", "ros_namespace", "output",
                                    "respawn", "respawn_delay", "args", "ros_args", "param", "remap",
                                    "env", "launch-prefix", "launch_prefix"}, where)
        if "launch-prefix" in attrs or "launch_prefix" in attrs:
            raise LaunchError(f"{where}: launch-prefix is not supported")
        name = _text(attrs, "name", ctx, where)
        ns = _text(attrs, "namespace", ctx, where, default=_text(attrs, "ros_namespace", ctx, where))
        spec = NodeSpec(
            pkg=str(_text(attrs, "pkg", ctx, where, required=True)),
            exec=str(_text(attrs, "exec", ctx, where, required=True)),
            name=str(name) if name is not None else None,
            namespace=_join_ns(ctx.namespace, str(ns)) if ns is not None else ctx.namespace,
            respawn=_to_bool(_text(attrs, "respawn", ctx, where, default=False), f"{where}: respawn"),
            output=str(_text(attrs, "output", ctx, where, default="log")),
            env=dict(ctx.env),
            args=shlex.split(str(_text(attrs, "args", ctx, where, default=""))),
            extra_ros_args=shlex.split(str(_text(attrs, "ros_args", ctx, where, default=""))),
        )
        try:
            spec.respawn_delay = float(_text(attrs, "respawn_delay", ctx, where, default=0.0))
        except (TypeError, ValueError) as exc:
            raise LaunchError(f"{where}: respawn_delay must be a number") from exc
        self._params(attrs.get("param") or [], "", spec, ctx, where)
        for i, item in enumerate(_list(attrs.get("remap"), where, "remap")):
            w = f"{where} remap #{i + 1}"
            spec.remaps.append((str(_text(item, "from", ctx, w, required=True)),
                                str(_text(item, "to", ctx, w, required=True))))
        for i, item in enumerate(_list(attrs.get("env"), where, "env")):
            w = f"{where} env #{i + 1}"
            spec.env[str(_text(item, "name", ctx, w, required=True))] = _stringify(
                _text(item, "value", ctx, w, required=True))
        self.desc.nodes.append(spec)

    def _params(self, items: Any, prefix: str, spec: NodeSpec, ctx: _Context, where: str) -> None:
        for i, item in enumerate(_list(items, where, "param")):
            w = f"{where} param #{i + 1}"
            if "from" in item:  # a parameter file
                spec.param_files.append(str(_text(item, "from", ctx, w)))
                continue
            name = prefix + str(_text(item, "name", ctx, w, required=True))
            if "param" in item:  # nested group: name.sub
                self._params(item["param"], name + ".", spec, ctx, w)
                continue
            if item.get("value") is None:
                raise LaunchError(f"{w}: param '{name}' needs a value")
            raw = item["value"]
            if isinstance(raw, list):
                raw = [substitute(v, ctx) if isinstance(v, str) else v for v in raw]
            elif isinstance(raw, str):
                raw = substitute(raw, ctx)
            try:
                spec.params[name] = typed_value(raw)
            except LaunchError as exc:
                raise LaunchError(f"{w}: {exc}") from exc


def _list(raw: Any, where: str, key: str) -> list[dict]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(x, dict) for x in raw):
        raise LaunchError(f"{where}: '{key}' must be a list of mappings")
    return raw


def _stringify(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _missing(path: Path, where: str) -> str:
    raise LaunchError(f"{where}: included file not found: {path}")


def _load_yaml(text: str, source: str) -> Any:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise LaunchError(f"{source}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict) or "launch" not in data:
        raise LaunchError(f"{source}: top level must be a mapping with a 'launch:' list")
    return data["launch"]


def parse_launch_string(text: str, cli_args: Mapping[str, str] | Sequence[str] | None = None, *,
                        package_shares: PackageShares = None,
                        environ: Mapping[str, str] | None = None,
                        source: str = "<string>", base_dir: str | os.PathLike | None = None,
                        ) -> LaunchDescription:
    """Parse YAML launch text. ``cli_args`` is a dict or a list of ``name:=value`` strings."""
    cli = dict(cli_args) if isinstance(cli_args, Mapping) else parse_cli_args(cli_args or [])
    raw = _load_yaml(text, source)
    declared = _declared_args(raw, source)
    unknown = sorted(set(cli) - set(declared))
    if unknown:
        raise LaunchError(f"unknown launch argument(s) {unknown}; declared: {sorted(set(declared))}")
    ctx = _Context({}, {}, "", os.environ if environ is None else environ, package_shares,
                   Path(base_dir) if base_dir is not None else Path.cwd())
    desc = LaunchDescription()
    _Parser(cli, desc, source).walk(raw, ctx, True)
    return desc


def parse_launch_file(path: str | os.PathLike, cli_args: Mapping[str, str] | Sequence[str] | None = None,
                      *, package_shares: PackageShares = None,
                      environ: Mapping[str, str] | None = None) -> LaunchDescription:
    """Parse a YAML launch file; relative includes and ``$(dirname)`` resolve next to it."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise LaunchError(f"cannot read launch file {p}: {exc}") from exc
    return parse_launch_string(text, cli_args, package_shares=package_shares, environ=environ,
                               source=str(p), base_dir=p.resolve().parent)
