//! Go's `fmt` rules for the values our templates see: how `%v` prints a
//! JSON value, Go's `%g`/`%e` float layout, `strconv.Quote`, and a
//! `Sprintf` subset. Users compare our output with podman's byte for byte,
//! so the quirks (`1e+06`, `%!d(string=x)`) are kept on purpose.

use serde_json::Value;

/// Go's `%v` for a value. `nil_text` is what a null prints as: text/template
/// prints a missing value as `<no value>`, fmt prints nil as `<nil>`.
pub fn fmt_value(v: &Value, nil_text: &str) -> String {
    let mut out = String::new();
    write_value(&mut out, v, nil_text);
    out
}

fn write_value(out: &mut String, v: &Value, nil_text: &str) {
    match v {
        Value::Null => out.push_str(nil_text),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&fmt_number(n)),
        Value::String(s) => out.push_str(s),
        Value::Array(a) => {
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                // Inside a composite Go prints a nil interface as <nil>.
                write_value(out, e, "<nil>");
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push_str("map[");
            // Go's fmt sorts map keys; serde_json may preserve insertion order.
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_value(out, &m[k.as_str()], "<nil>");
            }
            out.push(']');
        }
    }
}

/// Integers print plainly; floats as Go's `%v` (shortest `%g`).
pub fn fmt_number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        fmt_float_g(n.as_f64().unwrap_or(0.0), None)
    }
}

/// Decimal digits and the decimal point position of a float: value =
/// 0.d1d2d3... * 10^dp, trailing zeros trimmed (Go's `decimal` type).
fn digits(x: f64, sig: Option<usize>) -> (String, i32) {
    let s = match sig {
        Some(p) => format!("{:.*e}", p.max(1) - 1, x.abs()),
        None => format!("{:e}", x.abs()),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut d: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    while d.len() > 1 && d.ends_with('0') {
        d.pop();
    }
    if d == "0" {
        return (String::new(), 0);
    }
    (d, exp + 1)
}

fn special(x: f64) -> Option<String> {
    if x.is_nan() {
        Some("NaN".into())
    } else if x.is_infinite() {
        Some(if x > 0.0 { "+Inf" } else { "-Inf" }.into())
    } else {
        None
    }
}

/// Go's `strconv.FormatFloat(x, 'g', prec, 64)`; `None` is shortest (-1).
pub fn fmt_float_g(x: f64, prec: Option<usize>) -> String {
    if let Some(s) = special(x) {
        return s;
    }
    let neg = x.is_sign_negative() && x != 0.0;
    let (d, dp) = digits(x, prec.map(|p| p.max(1)));
    let nd = d.len() as i32;
    let (d, dp) = if nd == 0 {
        ("0".to_string(), 1)
    } else {
        (d, dp)
    };
    let nd = d.len() as i32;
    let mut p = match prec {
        Some(p) => p.max(1) as i32,
        None => nd,
    };
    let mut eprec = p;
    if eprec > nd && nd >= dp {
        eprec = nd;
    }
    if prec.is_none() {
        eprec = 6;
    }
    let exp = dp - 1;
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if exp < -4 || exp >= eprec {
        if p > nd {
            p = nd;
        }
        out.push_str(&fmt_e_digits(&d, dp, (p - 1).max(0) as usize, 'e'));
        return out;
    }
    if p > dp {
        p = nd;
    }
    let frac = (p - dp).max(0) as usize;
    out.push_str(&fmt_f_digits(&d, dp, frac));
    out
}

fn fmt_e_digits(d: &str, dp: i32, prec: usize, e: char) -> String {
    let b = d.as_bytes();
    let mut s = String::new();
    s.push(*b.first().unwrap_or(&b'0') as char);
    if prec > 0 {
        s.push('.');
        for i in 1..=prec {
            s.push(*b.get(i).unwrap_or(&b'0') as char);
        }
    }
    let exp = if d.is_empty() || d == "0" { 0 } else { dp - 1 };
    s.push(e);
    s.push(if exp < 0 { '-' } else { '+' });
    let a = exp.abs();
    if a < 10 {
        s.push('0');
    }
    s.push_str(&a.to_string());
    s
}

fn fmt_f_digits(d: &str, dp: i32, frac: usize) -> String {
    let b = d.as_bytes();
    let digit = |i: i32| -> char {
        if i >= 0 && (i as usize) < b.len() {
            b[i as usize] as char
        } else {
            '0'
        }
    };
    let mut s = String::new();
    if dp > 0 {
        for i in 0..dp {
            s.push(digit(i));
        }
    } else {
        s.push('0');
    }
    if frac > 0 {
        s.push('.');
        for i in 0..frac as i32 {
            s.push(digit(dp + i));
        }
    }
    s
}

/// Go's `%e` with a precision (default 6).
pub fn fmt_float_e(x: f64, prec: usize) -> String {
    if let Some(s) = special(x) {
        return s;
    }
    let neg = x.is_sign_negative() && x != 0.0;
    let (d, dp) = digits(x, Some(prec + 1));
    let body = fmt_e_digits(if d.is_empty() { "0" } else { &d }, dp, prec, 'e');
    if neg {
        format!("-{body}")
    } else {
        body
    }
}

/// Go's `strconv.Quote`: a double-quoted literal with Go escapes.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => {
                let u = c as u32;
                if u > 0xffff {
                    out.push_str(&format!("\\U{u:08x}"))
                } else {
                    out.push_str(&format!("\\u{u:04x}"))
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's type name for a value as `%!verb(type=value)` reports it.
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

#[derive(Default, Clone, Copy)]
struct Spec {
    minus: bool,
    plus: bool,
    zero: bool,
    space: bool,
    sharp: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

impl Spec {
    fn pad(&self, s: String, numeric: bool) -> String {
        let w = match self.width {
            Some(w) => w,
            None => return s,
        };
        let n = s.chars().count();
        if n >= w {
            return s;
        }
        let fill = w - n;
        if self.minus {
            return s + &" ".repeat(fill);
        }
        if self.zero && numeric {
            // Zeros go after the sign.
            let (sign, rest) = match s.chars().next() {
                Some(c @ ('-' | '+' | ' ')) => (c.to_string(), s[1..].to_string()),
                _ => (String::new(), s.clone()),
            };
            return format!("{sign}{}{rest}", "0".repeat(fill));
        }
        " ".repeat(fill) + &s
    }

    fn sign(&self, s: String, neg: bool) -> String {
        if neg {
            s
        } else if self.plus {
            format!("+{s}")
        } else if self.space {
            format!(" {s}")
        } else {
            s
        }
    }
}

fn as_int(v: &Value) -> Option<i128> {
    match v {
        Value::Number(n) if !n.is_f64() => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from)),
        _ => None,
    }
}

fn fmt_int(i: i128, verb: char, spec: &Spec) -> String {
    let neg = i < 0;
    let a = i.unsigned_abs();
    let mut body = match verb {
        'd' | 'v' => a.to_string(),
        'b' => format!("{a:b}"),
        'o' => format!("{a:o}"),
        'O' => format!("0o{a:o}"),
        'x' => format!("{a:x}"),
        'X' => format!("{a:X}"),
        _ => a.to_string(),
    };
    if let Some(p) = spec.prec {
        if body.len() < p {
            body = "0".repeat(p - body.len()) + &body;
        }
    }
    if spec.sharp {
        match verb {
            'x' => body = format!("0x{body}"),
            'X' => body = format!("0X{body}"),
            'o' => body = format!("0{body}"),
            _ => {}
        }
    }
    if neg {
        body = format!("-{body}");
    }
    spec.sign(body, neg)
}

fn fmt_float(f: f64, verb: char, spec: &Spec) -> String {
    let neg = f.is_sign_negative() && f != 0.0;
    let body = match verb {
        'f' | 'F' => match special(f) {
            Some(s) => s,
            None => format!("{:.*}", spec.prec.unwrap_or(6), f),
        },
        'e' => fmt_float_e(f, spec.prec.unwrap_or(6)),
        'E' => fmt_float_e(f, spec.prec.unwrap_or(6)).to_uppercase(),
        'G' => fmt_float_g(f, spec.prec).to_uppercase(),
        _ => fmt_float_g(f, spec.prec),
    };
    spec.sign(body, neg)
}

/// Format one argument with one verb; `None` means a bad verb for the type.
fn fmt_arg(v: &Value, verb: char, spec: &Spec) -> Option<(String, bool)> {
    match (v, verb) {
        (_, 'T') => Some((go_type(v).to_string(), false)),
        (Value::String(s), 's' | 'v') => {
            let s = match spec.prec {
                Some(p) => s.chars().take(p).collect(),
                None => s.clone(),
            };
            Some((s, false))
        }
        (Value::String(s), 'q') => Some((quote(s), false)),
        (Value::String(s), 'x') => Some((s.bytes().map(|b| format!("{b:02x}")).collect(), false)),
        (Value::String(s), 'X') => Some((s.bytes().map(|b| format!("{b:02X}")).collect(), false)),
        (Value::Bool(b), 't' | 'v') => Some((b.to_string(), false)),
        (Value::Number(n), _) if !n.is_f64() => {
            let i = as_int(v)?;
            match verb {
                'd' | 'v' | 'b' | 'o' | 'O' | 'x' | 'X' => Some((fmt_int(i, verb, spec), true)),
                'c' => Some((
                    char::from_u32(i as u32).unwrap_or('\u{fffd}').to_string(),
                    false,
                )),
                'q' => Some((
                    format!("'{}'", char::from_u32(i as u32).unwrap_or('\u{fffd}')),
                    false,
                )),
                _ => None,
            }
        }
        (Value::Number(n), 'e' | 'E' | 'f' | 'F' | 'g' | 'G' | 'v') => {
            Some((fmt_float(n.as_f64().unwrap_or(0.0), verb, spec), true))
        }
        (Value::Null, 'v' | 's') => Some(("<nil>".into(), false)),
        (Value::Array(a), 'v' | 's' | 'q' | 'd') => {
            // Go applies the verb to each element of a slice.
            let parts: Option<Vec<String>> = a
                .iter()
                .map(|e| fmt_arg(e, verb, &Spec::default()).map(|x| x.0))
                .collect();
            Some((format!("[{}]", parts?.join(" ")), false))
        }
        (Value::Object(_), 'v' | 's') => Some((fmt_value(v, "<nil>"), false)),
        _ => None,
    }
}

/// Go's `fmt.Sprintf` for the verbs podman users write: `%s %d %v %q %t %f
/// %e %g %x %X %o %b %c %T %%`, flags `-+ 0#`, width and precision (also `*`).
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut argi = 0;
    let chars: Vec<char> = format.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '%' {
            out.push(c);
            i += 1;
            continue;
        }
        i += 1;
        let mut spec = Spec::default();
        while i < chars.len() {
            match chars[i] {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '0' => spec.zero = true,
                ' ' => spec.space = true,
                '#' => spec.sharp = true,
                _ => break,
            }
            i += 1;
        }
        // Go's tooLarge: a width or precision past 1e6 is not taken (a
        // crazy number, not a request for gigabytes of padding). Written
        // out, it ends the format with %!(NOVERB); from `*`, %!(BADWIDTH).
        const TOO_LARGE: usize = 1_000_000;
        let mut bad = None;
        let mut read_num = |i: &mut usize, argi: &mut usize, what: &str| -> Option<usize> {
            if *i < chars.len() && chars[*i] == '*' {
                *i += 1;
                let n = args.get(*argi).and_then(as_int);
                *argi += 1;
                let n = n.map(|n| n.max(0) as usize);
                if n.is_some_and(|n| n > TOO_LARGE) {
                    bad = Some(format!("%!(BAD{what})"));
                    return None;
                }
                return n;
            }
            let start = *i;
            while *i < chars.len() && chars[*i].is_ascii_digit() {
                *i += 1;
            }
            if *i > start {
                let n: Option<usize> = chars[start..*i].iter().collect::<String>().parse().ok();
                if n.is_none_or(|n| n > TOO_LARGE) {
                    *i = chars.len();
                    return None;
                }
                n
            } else {
                None
            }
        };
        spec.width = read_num(&mut i, &mut argi, "WIDTH");
        if i < chars.len() && chars[i] == '.' {
            i += 1;
            spec.prec = Some(read_num(&mut i, &mut argi, "PREC").unwrap_or(0));
        }
        if let Some(b) = bad {
            out.push_str(&b);
        }
        let verb = match chars.get(i) {
            Some(v) => *v,
            None => {
                out.push_str("%!(NOVERB)");
                break;
            }
        };
        i += 1;
        if verb == '%' {
            out.push('%');
            continue;
        }
        let arg = match args.get(argi) {
            Some(a) => a,
            None => {
                out.push_str(&format!("%!{verb}(MISSING)"));
                continue;
            }
        };
        argi += 1;
        match fmt_arg(arg, verb, &spec) {
            Some((s, numeric)) => out.push_str(&spec.pad(s, numeric)),
            None => {
                let shown = match arg {
                    Value::Null => String::new(),
                    _ => format!("={}", fmt_value(arg, "<nil>")),
                };
                if arg.is_null() {
                    out.push_str(&format!("%!{verb}(<nil>)"));
                } else {
                    out.push_str(&format!("%!{verb}({}{shown})", go_type(arg)));
                }
            }
        }
    }
    if argi < args.len() {
        let extra: Vec<String> = args[argi..]
            .iter()
            .map(|a| format!("{}={}", go_type(a), fmt_value(a, "<nil>")))
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

/// Go's `fmt.Sprint`: a space between operands when neither is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !a.is_string() && !args[i - 1].is_string() {
            out.push(' ');
        }
        out.push_str(&fmt_value(a, "<nil>"));
    }
    out
}

/// Go's `fmt.Sprintln`: always spaces between operands, newline at the end.
pub fn sprintln(args: &[Value]) -> String {
    let parts: Vec<String> = args.iter().map(|a| fmt_value(a, "<nil>")).collect();
    parts.join(" ") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn float_g_matches_go() {
        assert_eq!(fmt_float_g(11.331, Some(3)), "11.3");
        assert_eq!(fmt_float_g(11.0, Some(3)), "11");
        assert_eq!(fmt_float_g(999.0, Some(3)), "999");
        assert_eq!(fmt_float_g(999.5, Some(3)), "1e+03");
        assert_eq!(fmt_float_g(100.0, Some(3)), "100");
        assert_eq!(fmt_float_g(1.5, Some(3)), "1.5");
        assert_eq!(fmt_float_g(0.0, Some(3)), "0");
        assert_eq!(fmt_float_g(1e6, None), "1e+06");
        assert_eq!(fmt_float_g(1234567.0, None), "1.234567e+06");
        assert_eq!(fmt_float_g(123456.0, None), "123456");
        assert_eq!(fmt_float_g(0.5, None), "0.5");
        assert_eq!(fmt_float_g(0.00001, None), "1e-05");
        assert_eq!(fmt_float_g(-2.25, None), "-2.25");
        assert_eq!(fmt_float_g(3.0, None), "3");
        assert_eq!(fmt_float_e(1234.5678, 2), "1.23e+03");
        assert_eq!(fmt_float_e(0.0, 1), "0.0e+00");
    }

    #[test]
    fn values_print_like_go() {
        assert_eq!(fmt_value(&json!(["a", "b"]), "<no value>"), "[a b]");
        assert_eq!(
            fmt_value(&json!({"b": 1, "a": [true]}), "x"),
            "map[a:[true] b:1]"
        );
        assert_eq!(fmt_value(&json!(null), "<no value>"), "<no value>");
        assert_eq!(fmt_value(&json!([null]), "<no value>"), "[<nil>]");
        assert_eq!(fmt_value(&json!(2.5), ""), "2.5");
        assert_eq!(fmt_value(&json!(-7), ""), "-7");
    }

    #[test]
    fn printf_crazy_widths_as_go() {
        // Found by fuzzing: a width of 10^30 asked for that much padding.
        let id = [Value::from("x")];
        assert_eq!(
            sprintf("a%5555555555555555555555555555d", &id),
            "a%!(NOVERB)%!(EXTRA string=x)"
        );
        assert_eq!(sprintf("%1000001s|", &id), "%!(NOVERB)%!(EXTRA string=x)");
        assert_eq!(sprintf("%1000000s|", &id).len(), 1_000_001);
        assert!(sprintf("%.9999999999f", &[Value::from(1.5)]).starts_with("%!(NOVERB)"));
        assert_eq!(
            sprintf("%*d", &[Value::from(2_000_000), Value::from(3)]),
            "%!(BADWIDTH)3"
        );
    }

    #[test]
    fn printf_verbs() {
        let s = |f: &str, a: Vec<Value>| sprintf(f, &a);
        assert_eq!(s("%-10s|", vec![json!("abc")]), "abc       |");
        assert_eq!(s("%5s|", vec![json!("abc")]), "  abc|");
        assert_eq!(s("%d", vec![json!(42)]), "42");
        assert_eq!(s("%05d", vec![json!(-42)]), "-0042");
        assert_eq!(s("%+d", vec![json!(5)]), "+5");
        assert_eq!(s("%5.2f", vec![json!(2.34567)]), " 2.35");
        assert_eq!(s("%.1f", vec![json!(2)]), "%!f(int=2)");
        assert_eq!(s("%q", vec![json!("a\"b\n")]), "\"a\\\"b\\n\"");
        assert_eq!(s("%v %v", vec![json!(["x"]), json!(true)]), "[x] true");
        assert_eq!(s("%d", vec![json!("11 kB")]), "%!d(string=11 kB)");
        assert_eq!(s("%s", vec![]), "%!s(MISSING)");
        assert_eq!(s("a", vec![json!(1)]), "a%!(EXTRA int=1)");
        assert_eq!(s("100%%", vec![]), "100%");
        assert_eq!(
            s(
                "%x %X %o %b",
                vec![json!(255), json!(255), json!(8), json!(5)]
            ),
            "ff FF 10 101"
        );
        assert_eq!(s("%#x", vec![json!(255)]), "0xff");
        assert_eq!(s("%.2s", vec![json!("hello")]), "he");
        assert_eq!(s("%*d", vec![json!(4), json!(7)]), "   7");
        assert_eq!(s("%t", vec![json!(false)]), "false");
        assert_eq!(s("%g", vec![json!(1e6)]), "1e+06");
        assert_eq!(s("%e", vec![json!(1500.0)]), "1.500000e+03");
        assert_eq!(s("%T", vec![json!("x")]), "string");
        assert_eq!(s("%q", vec![json!(["a", "b"])]), "[\"a\" \"b\"]");
        assert_eq!(s("%s", vec![json!(null)]), "<nil>");
        assert_eq!(s("%x", vec![json!("hi")]), "6869");
    }

    #[test]
    fn sprint_spacing() {
        assert_eq!(
            sprint(&[json!("a"), json!(1), json!(2), json!("b")]),
            "a1 2b"
        );
        assert_eq!(sprintln(&[json!("a"), json!(1)]), "a 1\n");
    }
}
