//! The merge-template language a message is written in, and the bounds a
//! render runs within: which part of minijinja a message may use, checked
//! on the parsed template before minijinja compiles it, and the limits on
//! what a render may make.
//!
//! minijinja's fuel bounds the instructions a render runs, not the memory it
//! takes: `{% set a = "x" * 100000000 %}` is one instruction and 100 MB, a
//! `~` in a loop doubles a value each turn, `indent(2000000000)` asks for
//! 2 GB at once, and even compiling folds constant expressions such as
//! `("x" * 100000000) ~ ("x" * 100000000)`. So the bound is by design, in
//! three parts:
//!
//! 1. **No operation can grow a value beyond its inputs.** The template is
//!    parsed (minijinja's `unstable_machinery` parser, the one it compiles
//!    from) and checked against a whitelist before minijinja sees it: `*`
//!    (which repeats text and lists), `~` and `+` on anything but a number
//!    written in the template, slices, macros, `{% set %}` and `{% filter %}`
//!    blocks (which capture output into values), recursive loops, includes
//!    and imports are refused with their line. What a mail merge needs stays:
//!    fields, `if`, `for` (over `range` or a split field), `set x = ...`,
//!    comparisons, arithmetic on numbers, and the filters and tests below.
//! 2. **Every value a filter makes is bounded**, each and all together: the
//!    environment starts empty and has only the filters listed in
//!    [`FILTERS`]; those that could make a large value from small inputs
//!    (`replace`, `join`, `indent`) are written here and check the size of
//!    their result before making it, and every filter's result counts
//!    against [`MAX_VALUE_BYTES`] and, per render, [`MAX_MADE_BYTES`].
//! 3. **The output is bounded**: a render writes into a buffer that refuses
//!    to grow past the part's limit ([`part_limit`]), so a loop that emits
//!    a field a million times ends at the limit, with an error naming it.
//!
//! The rest is bounded by fuel (instructions, so loops), minijinja's own
//! limits (`range` yields at most 100,000 numbers; nesting and recursion
//! depth) and the size of the template and of the recipient's values.

use std::cell::Cell;
use std::io;
use std::sync::Arc;

use minijinja::machinery::{WhitespaceConfig, ast, parse};
use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Kwargs, Rest, Value};
use minijinja::{AutoEscape, Environment, ErrorKind, State, UndefinedBehavior};

use super::problem::{Construct, Made, TemplateCause, TemplateError, TemplatePart, TemplateProblem};

/// Instructions a single render may execute: generous for any real message,
/// small enough that `{% for i in range(10**9) %}` ends in an error quickly.
const FUEL: u64 = 200_000;
/// The largest value a filter may make (1 MiB): far more than any field or
/// sentence, small enough that a few of them are nothing to the process.
pub const MAX_VALUE_BYTES: usize = 1 << 20;
/// All the values the filters of one render may make together (16 MiB):
/// with no way to grow a value but filters, this bounds what a render can
/// hold besides its template, its recipient's values and its output.
pub const MAX_MADE_BYTES: usize = 16 << 20;
/// A body's template and its rendered text (each): 10 MiB, more than any
/// mail server accepts in a whole message.
pub const MAX_BODY_BYTES: usize = 10 << 20;
/// A one-line part (the subject, the unsubscribe link, a file name): its
/// template and its rendered text (16 KiB).
pub const MAX_LINE_BYTES: usize = 16 << 10;

/// The part whose output is HTML (escaped); every other part is text.
pub(super) const HTML_PART: &str = "html";

/// The filters a message may use. Those marked as written here bound their
/// result before making it; the others make at most a few times their input
/// (case changes, escaping), and their result is checked after.
pub const FILTERS: &[&str] = &[
    "abs",
    "capitalize",
    "count",
    "d",
    "default",
    "e",
    "escape",
    "first",
    "float",
    "indent",
    "int",
    "join",
    "last",
    "length",
    "lines",
    "lower",
    "replace",
    "reverse",
    "round",
    "safe",
    "split",
    "string",
    "title",
    "trim",
    "upper",
    "urlencode",
];

/// The tests a message may use (`{% if x is defined %}`): each answers true
/// or false, so none makes a value.
pub const TESTS: &[&str] = &[
    "boolean",
    "defined",
    "divisibleby",
    "endingwith",
    "eq",
    "equalto",
    "escaped",
    "even",
    "false",
    "float",
    "ge",
    "greaterthan",
    "gt",
    "in",
    "int",
    "integer",
    "iterable",
    "le",
    "lessthan",
    "lower",
    "lt",
    "mapping",
    "ne",
    "none",
    "number",
    "odd",
    "safe",
    "sameas",
    "sequence",
    "startingwith",
    "string",
    "true",
    "undefined",
    "upper",
];

/// The functions a message may call.
pub const FUNCTIONS: &[&str] = &["range"];

/// The most a part named `part` may be, as a template and rendered.
pub fn part_limit(part: &str) -> usize {
    match part {
        "text" | HTML_PART => MAX_BODY_BYTES,
        _ => MAX_LINE_BYTES,
    }
}

/// `bytes` for a person: "16 KB", "10 MB", "16.1 MB": tenths rounded up, so
/// a size over a limit never reads as the limit itself.
pub fn describe_size(bytes: usize) -> String {
    let (unit, name) = if bytes >= 1 << 20 {
        (1 << 20, "MB")
    } else {
        (1 << 10, "KB")
    };
    let tenths = (bytes.saturating_mul(10)).div_ceil(unit).max(1);
    if tenths % 10 == 0 {
        format!("{} {name}", tenths / 10)
    } else {
        format!("{}.{} {name}", tenths / 10, tenths % 10)
    }
}

/// The environment every message part is compiled into: nothing but the
/// filters, tests and functions above, strict about unknown names, under
/// the fuel limit, HTML-escaping the HTML part only.
pub(super) fn environment() -> Environment<'static> {
    let mut env = Environment::empty();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_auto_escape_callback(|name| {
        if name == HTML_PART {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.set_keep_trailing_newline(true);

    use minijinja::filters as f;
    let checked_after = [
        ("abs", Value::from_function(f::abs)),
        ("capitalize", Value::from_function(f::capitalize)),
        ("count", Value::from_function(f::length)),
        ("e", Value::from_function(f::escape)),
        ("escape", Value::from_function(f::escape)),
        ("first", Value::from_function(f::first)),
        ("float", Value::from_function(f::float)),
        ("int", Value::from_function(f::int)),
        ("last", Value::from_function(f::last)),
        ("length", Value::from_function(f::length)),
        ("lines", Value::from_function(f::lines)),
        ("lower", Value::from_function(f::lower)),
        ("reverse", Value::from_function(f::reverse)),
        ("round", Value::from_function(f::round)),
        ("safe", Value::from_function(f::safe)),
        ("split", Value::from_function(f::split)),
        ("string", Value::from_function(f::string)),
        ("title", Value::from_function(f::title)),
        ("trim", Value::from_function(f::trim)),
        ("upper", Value::from_function(f::upper)),
        ("urlencode", Value::from_function(f::urlencode)),
    ];
    for (name, filter) in checked_after {
        env.add_filter(name, move |state: &State, args: Rest<Value>| {
            let made = filter.call(state, &args)?;
            count_made(&made)?;
            Ok(made)
        });
    }
    // Jinja's `default` ignores empty strings; a spreadsheet's empty cell is
    // exactly what a person means to replace.
    env.add_filter("default", default_filter);
    env.add_filter("d", default_filter);
    env.add_filter("replace", replace_filter);
    env.add_filter("join", join_filter);
    env.add_filter("indent", indent_filter);

    use minijinja::tests as t;
    let tests = [
        ("boolean", Value::from_function(t::is_boolean)),
        ("defined", Value::from_function(t::is_defined)),
        ("divisibleby", Value::from_function(t::is_divisibleby)),
        ("endingwith", Value::from_function(t::is_endingwith)),
        ("eq", Value::from_function(t::is_eq)),
        ("equalto", Value::from_function(t::is_eq)),
        ("escaped", Value::from_function(t::is_safe)),
        ("even", Value::from_function(t::is_even)),
        ("false", Value::from_function(t::is_false)),
        ("float", Value::from_function(t::is_float)),
        ("ge", Value::from_function(t::is_ge)),
        ("greaterthan", Value::from_function(t::is_gt)),
        ("gt", Value::from_function(t::is_gt)),
        ("in", Value::from_function(t::is_in)),
        ("int", Value::from_function(t::is_integer)),
        ("integer", Value::from_function(t::is_integer)),
        ("iterable", Value::from_function(t::is_iterable)),
        ("le", Value::from_function(t::is_le)),
        ("lessthan", Value::from_function(t::is_lt)),
        ("lower", Value::from_function(t::is_lower)),
        ("lt", Value::from_function(t::is_lt)),
        ("mapping", Value::from_function(t::is_mapping)),
        ("ne", Value::from_function(t::is_ne)),
        ("none", Value::from_function(t::is_none)),
        ("number", Value::from_function(t::is_number)),
        ("odd", Value::from_function(t::is_odd)),
        ("safe", Value::from_function(t::is_safe)),
        ("sameas", Value::from_function(t::is_sameas)),
        ("sequence", Value::from_function(t::is_sequence)),
        ("startingwith", Value::from_function(t::is_startingwith)),
        ("string", Value::from_function(t::is_string)),
        ("true", Value::from_function(t::is_true)),
        ("undefined", Value::from_function(t::is_undefined)),
        ("upper", Value::from_function(t::is_upper)),
    ];
    for (name, test) in tests {
        env.add_test(name, move |state: &State, args: Rest<Value>| {
            Ok::<_, minijinja::Error>(test.call(state, &args)?.is_true())
        });
    }
    env.add_function("range", minijinja::functions::range);
    env
}

/// Why a template is refused before it is compiled, and on which line.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub line: Option<usize>,
    pub problem: TemplateProblem,
}

/// Checks a part's template: its size against `limit`, its syntax, and that
/// it uses only what a message may (see the module's doc). Nothing of it is
/// evaluated.
pub fn check_template(source: &str, limit: usize) -> Result<(), Refusal> {
    if source.len() > limit {
        return Err(Refusal {
            line: None,
            problem: TemplateProblem::TooLong {
                bytes: source.len() as u64,
                limit: limit as u64,
            },
        });
    }
    let whitespace = WhitespaceConfig {
        keep_trailing_newline: true,
        ..WhitespaceConfig::default()
    };
    // A unit struct unless minijinja's `custom_syntax` is on; `default()` is
    // right either way.
    #[allow(clippy::default_constructed_unit_structs)]
    let syntax = SyntaxConfig::default();
    let template = parse(source, "message", syntax, whitespace).map_err(|e| Refusal {
        line: e.line(),
        problem: syntax_problem(&e, source),
    })?;
    check_stmt(&template)
}

/// A syntax error minijinja found in `source`, typed: a tag or block left
/// open (the parser reached the end still inside one), or any other with
/// its cause; both quote the offending line.
pub(super) fn syntax_problem(err: &minijinja::Error, source: &str) -> TemplateProblem {
    // minijinja has no kind of its own for an unclosed tag: its parser
    // reports every one as reaching the end of the input.
    let unclosed =
        err.kind() == ErrorKind::SyntaxError && err.detail().is_some_and(|d| d.starts_with("unexpected end of input"));
    let mut text = super::problem::source_line(source, err.line());
    if unclosed {
        if text.is_empty() {
            text = super::problem::source_line(source, Some(source.lines().count()));
        }
        return TemplateProblem::Unclosed { text };
    }
    match err.kind() {
        ErrorKind::UnknownFilter => TemplateProblem::UnknownFilter {
            name: err.detail().map(unknown_name).unwrap_or_default(),
            suggestion: None,
        },
        ErrorKind::UnknownTest => TemplateProblem::UnknownTest {
            name: err.detail().map(unknown_name).unwrap_or_default(),
            suggestion: None,
        },
        kind => TemplateProblem::Syntax {
            cause: TemplateCause::of(kind),
            text,
            detail: err.detail().map(str::to_owned),
        },
    }
}

/// The name in minijinja's "filter x is unknown" detail (or the detail).
fn unknown_name(detail: &str) -> String {
    detail.split_whitespace().nth(1).unwrap_or(detail).to_owned()
}

fn refuse<T>(span: minijinja::machinery::Span, problem: TemplateProblem) -> Result<T, Refusal> {
    Err(Refusal {
        line: Some(usize::from(span.start_line)),
        problem,
    })
}

fn not_available<T>(span: minijinja::machinery::Span, construct: Construct) -> Result<T, Refusal> {
    refuse(span, TemplateProblem::NotAvailable { construct })
}

fn check_stmts(stmts: &[ast::Stmt<'_>]) -> Result<(), Refusal> {
    stmts.iter().try_for_each(check_stmt)
}

fn check_stmt(stmt: &ast::Stmt<'_>) -> Result<(), Refusal> {
    use ast::Stmt;
    match stmt {
        Stmt::Template(t) => check_stmts(&t.children),
        Stmt::EmitExpr(e) => check_expr(&e.expr),
        Stmt::EmitRaw(_) => Ok(()),
        Stmt::ForLoop(l) => {
            if l.recursive {
                return not_available(l.span(), Construct::RecursiveLoop);
            }
            check_target(&l.target)?;
            check_expr(&l.iter)?;
            l.filter_expr.as_ref().map_or(Ok(()), check_expr)?;
            check_stmts(&l.body)?;
            check_stmts(&l.else_body)
        }
        Stmt::IfCond(i) => {
            check_expr(&i.expr)?;
            check_stmts(&i.true_body)?;
            check_stmts(&i.false_body)
        }
        Stmt::WithBlock(w) => {
            for (target, value) in &w.assignments {
                check_target(target)?;
                check_expr(value)?;
            }
            check_stmts(&w.body)
        }
        Stmt::Set(s) => {
            check_target(&s.target)?;
            check_expr(&s.expr)
        }
        Stmt::AutoEscape(a) => {
            check_expr(&a.enabled)?;
            check_stmts(&a.body)
        }
        Stmt::SetBlock(s) => not_available(s.span(), Construct::SetBlock),
        Stmt::FilterBlock(f) => not_available(f.span(), Construct::FilterBlock),
        Stmt::Macro(m) => not_available(m.span(), Construct::Macro),
        Stmt::CallBlock(c) => not_available(c.span(), Construct::CallBlock),
        Stmt::Do(d) => not_available(d.span(), Construct::Do),
        Stmt::Block(b) => not_available(b.span(), Construct::OtherTemplates),
        Stmt::Import(i) => not_available(i.span(), Construct::OtherTemplates),
        Stmt::FromImport(i) => not_available(i.span(), Construct::OtherTemplates),
        Stmt::Extends(e) => not_available(e.span(), Construct::OtherTemplates),
        Stmt::Include(i) => not_available(i.span(), Construct::OtherTemplates),
        // Anything a later minijinja adds is refused until it is looked at.
        #[allow(unreachable_patterns)]
        _ => Err(Refusal {
            line: None,
            problem: TemplateProblem::NotAvailable {
                construct: Construct::UnknownStatement,
            },
        }),
    }
}

/// What a `for`, `set` or `with` assigns to: a name, or names to unpack.
fn check_target(target: &ast::Expr<'_>) -> Result<(), Refusal> {
    match target {
        ast::Expr::Var(_) => Ok(()),
        ast::Expr::List(l) => l.items.iter().try_for_each(check_target),
        other => not_available(other.span(), Construct::SetTarget),
    }
}

fn check_args(args: &[ast::CallArg<'_>]) -> Result<(), Refusal> {
    args.iter().try_for_each(|arg| match arg {
        ast::CallArg::Pos(e) | ast::CallArg::Kwarg(_, e) | ast::CallArg::PosSplat(e) | ast::CallArg::KwargSplat(e) => {
            check_expr(e)
        }
    })
}

/// A number written in the template (`1`, `-2.5`).
fn is_number_literal(expr: &ast::Expr<'_>) -> bool {
    match expr {
        ast::Expr::Const(c) => c.value.is_number(),
        ast::Expr::UnaryOp(u) => matches!(u.op, ast::UnaryOpKind::Neg) && is_number_literal(&u.expr),
        _ => false,
    }
}

fn check_expr(expr: &ast::Expr<'_>) -> Result<(), Refusal> {
    use ast::{BinOpKind, Expr};
    match expr {
        Expr::Var(_) | Expr::Const(_) => Ok(()),
        Expr::Slice(s) => not_available(s.span(), Construct::Slice),
        Expr::UnaryOp(u) => check_expr(&u.expr),
        Expr::BinOp(b) => {
            match b.op {
                BinOpKind::Mul => {
                    return not_available(b.span(), Construct::Repeat);
                }
                BinOpKind::Concat => {
                    return not_available(b.span(), Construct::Concat);
                }
                BinOpKind::Add if !is_number_literal(&b.left) && !is_number_literal(&b.right) => {
                    return not_available(b.span(), Construct::AddText);
                }
                _ => {}
            }
            check_expr(&b.left)?;
            check_expr(&b.right)
        }
        Expr::Compare(c) => {
            check_expr(&c.expr)?;
            c.ops.iter().try_for_each(|op| check_expr(&op.expr))
        }
        Expr::IfExpr(i) => {
            check_expr(&i.test_expr)?;
            check_expr(&i.true_expr)?;
            i.false_expr.as_ref().map_or(Ok(()), check_expr)
        }
        Expr::Filter(f) => {
            if !FILTERS.contains(&f.name) {
                return refuse(
                    f.span(),
                    TemplateProblem::UnknownFilter {
                        name: f.name.to_owned(),
                        suggestion: super::problem::nearest(f.name, FILTERS.iter().copied()),
                    },
                );
            }
            f.expr.as_ref().map_or(Ok(()), check_expr)?;
            check_args(&f.args)
        }
        Expr::Test(t) => {
            if !TESTS.contains(&t.name) {
                return refuse(
                    t.span(),
                    TemplateProblem::UnknownTest {
                        name: t.name.to_owned(),
                        suggestion: super::problem::nearest(t.name, TESTS.iter().copied()),
                    },
                );
            }
            check_expr(&t.expr)?;
            check_args(&t.args)
        }
        Expr::GetAttr(g) => check_expr(&g.expr),
        Expr::GetItem(g) => {
            check_expr(&g.expr)?;
            check_expr(&g.subscript_expr)
        }
        Expr::Call(c) => match &c.expr {
            Expr::Var(v) if FUNCTIONS.contains(&v.id) => check_args(&c.args),
            _ => not_available(c.span(), Construct::Call),
        },
        Expr::List(l) => l.items.iter().try_for_each(check_expr),
        Expr::Map(m) => m.keys.iter().chain(&m.values).try_for_each(check_expr),
    }
}

thread_local! {
    /// The bytes the filters of the render running on this thread have made
    /// so far: a render runs on one thread from start to end, and [`render`]
    /// sets this to zero before it starts.
    static MADE: Cell<usize> = const { Cell::new(0) };
}

/// About how many bytes `value` holds: a string's length; a list or map at
/// 32 bytes an item (a value's size, rounded up); anything else 16.
fn size_of(value: &Value) -> usize {
    if let Some(text) = value.as_str() {
        text.len()
    } else if matches!(
        value.kind(),
        minijinja::value::ValueKind::Seq | minijinja::value::ValueKind::Map
    ) {
        value.len().unwrap_or(0).saturating_mul(32)
    } else {
        16
    }
}

thread_local! {
    /// What the last filter refused as too large, on this thread: minijinja
    /// carries a filter's error as text, so [`render`] reads the typed
    /// problem from here.
    static REFUSED: Cell<Option<(Made, usize, usize)>> = const { Cell::new(None) };
}

fn too_large(made: Made, bytes: usize, limit: usize) -> minijinja::Error {
    REFUSED.with(|refused| refused.set(Some((made, bytes, limit))));
    let problem = TemplateProblem::TooLarge {
        made,
        bytes: bytes as u64,
        limit: limit as u64,
    };
    minijinja::Error::new(ErrorKind::InvalidOperation, problem.to_string())
}

/// Refuses a value a filter would make that is over [`MAX_VALUE_BYTES`].
fn check_size(bytes: usize) -> Result<(), minijinja::Error> {
    if bytes > MAX_VALUE_BYTES {
        return Err(too_large(Made::Value, bytes, MAX_VALUE_BYTES));
    }
    Ok(())
}

/// Counts a filter's result against both limits.
fn count_made(value: &Value) -> Result<(), minijinja::Error> {
    let bytes = size_of(value);
    check_size(bytes)?;
    let total = MADE.with(|made| {
        let total = made.get().saturating_add(bytes);
        made.set(total);
        total
    });
    if total > MAX_MADE_BYTES {
        return Err(too_large(Made::AllValues, total, MAX_MADE_BYTES));
    }
    Ok(())
}

/// `default(value, fallback)`: the fallback for undefined, none and empty text.
/// Jinja's second argument (`true`: empty text too) is accepted and changes
/// nothing, since empty text always takes the fallback here.
pub(super) fn default_filter(value: &Value, fallback: Option<Value>, _empty_too: Option<bool>) -> Value {
    let empty = value.is_undefined() || value.is_none() || value.as_str().is_some_and(|s| s.trim().is_empty());
    if empty {
        fallback.unwrap_or_else(|| Value::from(""))
    } else {
        value.clone()
    }
}

/// A value as the text a filter works on: as written in the HTML part (so
/// escaped) when `escape`, as it is otherwise.
fn text_of(state: &State, value: &Value, escape: bool) -> Result<Arc<str>, minijinja::Error> {
    if escape && !value.is_safe() {
        return Ok(Arc::from(state.format(value.clone())?));
    }
    Ok(plain_text(value))
}

/// A value as text, unescaped.
fn plain_text(value: &Value) -> Arc<str> {
    match value.as_str() {
        Some(text) => Arc::from(text),
        None => Arc::from(value.to_string()),
    }
}

/// Wraps a filter's text: safe (already escaped) when it was made from
/// escaped text.
fn made_text(text: String, escaped: bool) -> Result<Value, minijinja::Error> {
    let value = if escaped {
        Value::from_safe_string(text)
    } else {
        Value::from(text)
    };
    count_made(&value)?;
    Ok(value)
}

/// `replace(from, to)`, as minijinja's, with the size of the result counted
/// before it is made. In the HTML part, when any of the three is safe
/// (already HTML), the value and `to` are escaped first, as minijinja does.
fn replace_filter(state: &State, value: &Value, from: &Value, to: &Value) -> Result<Value, minijinja::Error> {
    let escape = state.auto_escape() != AutoEscape::None && (value.is_safe() || from.is_safe() || to.is_safe());
    let text = text_of(state, value, escape)?;
    let from = text_of(state, from, false)?;
    let to = text_of(state, to, escape)?;
    let places = if from.is_empty() {
        // Between every two characters, and at both ends.
        text.chars().count().saturating_add(1)
    } else {
        text.matches(from.as_ref()).count()
    };
    let size = text
        .len()
        .saturating_sub(places.saturating_mul(from.len()))
        .saturating_add(places.saturating_mul(to.len()));
    check_size(size)?;
    made_text(text.replace(from.as_ref(), &to), escape)
}

/// `join(joiner)`: the items of a list, with the size of the result checked
/// as it grows. In the HTML part, each item and the joiner are escaped
/// unless safe, and the result is safe: what minijinja's `join` and the
/// escaping of its result write.
// minijinja hands filter arguments over by value.
#[allow(clippy::needless_pass_by_value)]
fn join_filter(state: &State, value: &Value, joiner: Option<Value>) -> Result<Value, minijinja::Error> {
    let escape = state.auto_escape() != AutoEscape::None;
    let joiner = match &joiner {
        Some(joiner) => text_of(state, joiner, escape)?,
        None => Arc::from(""),
    };
    let items = value.try_iter().map_err(|e| {
        minijinja::Error::new(ErrorKind::InvalidOperation, format!("cannot join a {}", value.kind())).with_source(e)
    })?;
    let mut out = String::new();
    for (index, item) in items.enumerate() {
        let item = text_of(state, &item, escape)?;
        let sep = if index > 0 { joiner.len() } else { 0 };
        check_size(out.len().saturating_add(sep).saturating_add(item.len()))?;
        if index > 0 {
            out.push_str(&joiner);
        }
        out.push_str(&item);
    }
    made_text(out, escape)
}

/// `indent(width, first, blank)`, as minijinja's (keywords `width`,
/// `first`, `blank` too), with the size of the result checked before it is
/// made: `indent(2000000000)` is an error, not a 2 GB allocation.
#[allow(clippy::needless_pass_by_value)] // minijinja hands `Kwargs` over by value.
fn indent_filter(
    value: &Value,
    width: Option<usize>,
    first: Option<bool>,
    blank: Option<bool>,
    kwargs: Kwargs,
) -> Result<Value, minijinja::Error> {
    let width = match width {
        Some(width) => width,
        None => kwargs.get::<Option<usize>>("width")?.unwrap_or(4),
    };
    let first = match first {
        Some(first) => first,
        None => kwargs.get::<Option<bool>>("first")?.unwrap_or(false),
    };
    let blank = match blank {
        Some(blank) => blank,
        None => kwargs.get::<Option<bool>>("blank")?.unwrap_or(false),
    };
    kwargs.assert_all_used()?;
    let text = plain_text(value);
    fn without_newline(s: &str) -> &str {
        let s = s.strip_suffix('\n').unwrap_or(s);
        s.strip_suffix('\r').unwrap_or(s)
    }
    let input = without_newline(&text);
    let lines = input.split('\n').count();
    check_size(
        input
            .len()
            .saturating_add(lines.saturating_mul(width.saturating_add(1))),
    )?;
    let pad = " ".repeat(width);
    let mut out = String::with_capacity(
        input
            .len()
            .saturating_add(lines.saturating_mul(width.saturating_add(1))),
    );
    let mut rest = input.split('\n');
    if !first {
        out.push_str(rest.next().unwrap_or_default());
        out.push('\n');
    }
    for line in rest {
        if !line.is_empty() || blank {
            out.push_str(&pad);
        }
        out.push_str(line);
        out.push('\n');
    }
    let kept = without_newline(&out).len();
    out.truncate(kept);
    made_text(out, value.is_safe())
}

/// Where a render writes: a buffer that refuses to grow past `limit`.
struct Bounded {
    out: Vec<u8>,
    limit: usize,
    over: bool,
}

impl io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.out.len().saturating_add(buf.len()) > self.limit {
            self.over = true;
            return Err(io::Error::other("over the limit"));
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Renders the part `part` of `env` for `context`, its text at most
/// [`part_limit`] long. The error names the part and line.
pub(super) fn render(env: &Environment<'_>, part: TemplatePart, context: &Value) -> Result<String, TemplateError> {
    let name = part.name();
    let failed = |line, problem| TemplateError::new(part, line, problem);
    let template = env.get_template(name).map_err(|e| failed(None, render_problem(&e)))?;
    let limit = part_limit(name);
    let mut out = Bounded {
        out: Vec::new(),
        limit,
        over: false,
    };
    MADE.with(|made| made.set(0));
    REFUSED.with(|refused| refused.set(None));
    match template.render_captured_to(context, &mut out) {
        // The buffer holds only what minijinja wrote from `&str`s.
        Ok(_) => String::from_utf8(out.out).map_err(|_| {
            failed(
                None,
                TemplateProblem::Render {
                    cause: TemplateCause::Other,
                    detail: None,
                },
            )
        }),
        Err(_) if out.over => Err(failed(None, TemplateProblem::OutputTooLong { limit: limit as u64 })),
        Err(e) => {
            let problem = match REFUSED.with(Cell::take) {
                Some((made, bytes, limit)) => TemplateProblem::TooLarge {
                    made,
                    bytes: bytes as u64,
                    limit: limit as u64,
                },
                None => render_problem(&e),
            };
            Err(failed(e.line(), problem))
        }
    }
}

/// A render's error from minijinja: its cause, and its words for the curious.
fn render_problem(err: &minijinja::Error) -> TemplateProblem {
    TemplateProblem::Render {
        cause: TemplateCause::of(err.kind()),
        detail: err.detail().map(str::to_owned),
    }
}
