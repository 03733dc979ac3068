//! Cleaning HTML pasted into the rich-text editor (from Word, Outlook, Google
//! Docs or a web page) down to what a mail body needs: structure, emphasis,
//! links, lists, tables and images, and none of the office suite's markup.
//!
//! ammonia does the sanitising on a real HTML5 parse. Two things it cannot
//! know are handled first, by pattern: Word's conditional sections (its list
//! markers `<![if !supportLists]>·&nbsp;<![endif]>`, kept as a plain `• `,
//! and the `<!--[if gte mso 9]>` settings blocks, dropped), and Google Docs'
//! outer `<b style="font-weight:normal">`, which would make the whole paste
//! bold once its style is dropped. Bare `<span>`s are left: harmless in mail.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use regex::Regex;

/// Tags a pasted fragment keeps; everything else is unwrapped (its text kept).
const TAGS: &[&str] = &[
    "a",
    "b",
    "strong",
    "i",
    "em",
    "u",
    "s",
    "strike",
    "sub",
    "sup",
    "p",
    "br",
    "div",
    "span",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "li",
    "blockquote",
    "pre",
    "code",
    "hr",
    "img",
    "table",
    "thead",
    "tbody",
    "tfoot",
    "tr",
    "td",
    "th",
    "caption",
];

/// Elements dropped with their content: page furniture, not text.
const DROPPED_WITH_CONTENT: &[&str] = &["script", "style", "title", "head", "xml", "meta", "template", "object"];

/// The inline styles worth keeping: emphasis a person chose, which Google Docs
/// and Word express as styles rather than `<b>`/`<i>`.
const KEPT_STYLES: &[(&str, &[&str])] = &[
    ("font-weight", &["bold", "bolder", "600", "700", "800", "900"]),
    ("font-style", &["italic"]),
    ("text-decoration", &["underline", "line-through"]),
    ("text-align", &["center", "right", "justify"]),
];

static CONDITIONAL_COMMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)<!--\[if[^\]]*\]>.*?<!\[endif\]-->").unwrap_or_else(|e| unreachable!("constant regex: {e}"))
});
static DOWNLEVEL_SECTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)<!\[if[^\]]*\]>(.*?)<!\[endif\]>").unwrap_or_else(|e| unreachable!("constant regex: {e}"))
});
static DOCS_WRAPPER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)<b\b[^>]*\bid\s*=\s*["']?docs-internal-guid[^>]*>"#)
        .unwrap_or_else(|e| unreachable!("constant regex: {e}"))
});

/// Returns `html` (a clipboard's `text/html`) cleaned for a mail body.
pub fn clean_pasted_html(html: &str) -> String {
    let html = CONDITIONAL_COMMENT.replace_all(html, "");
    let html = DOWNLEVEL_SECTION.replace_all(&html, |found: &regex::Captures<'_>| list_marker(&found[1]));
    let html = DOCS_WRAPPER.replace_all(&html, "<span>");

    let tag_attributes: HashMap<&str, HashSet<&str>> = HashMap::from([
        ("a", HashSet::from(["href", "title"])),
        ("img", HashSet::from(["src", "alt", "width", "height"])),
        ("td", HashSet::from(["colspan", "rowspan"])),
        ("th", HashSet::from(["colspan", "rowspan"])),
        ("ol", HashSet::from(["start"])),
    ]);
    let cleaned = ammonia::Builder::default()
        .tags(TAGS.iter().copied().collect())
        .clean_content_tags(DROPPED_WITH_CONTENT.iter().copied().collect())
        .tag_attributes(tag_attributes)
        .generic_attributes(HashSet::from(["style"]))
        .attribute_filter(|_element, attribute, value| {
            if attribute == "style" {
                let kept = kept_style(value);
                (!kept.is_empty()).then(|| kept.into())
            } else {
                Some(value.into())
            }
        })
        .url_schemes(HashSet::from(["http", "https", "mailto", "cid", "data"]))
        .link_rel(None)
        .strip_comments(true)
        .clean(&html)
        .to_string();
    tidy(&cleaned)
}

/// The declarations of `style` worth keeping, as a style attribute's value.
fn kept_style(style: &str) -> String {
    let mut kept = Vec::new();
    for declaration in style.split(';') {
        let Some((property, value)) = declaration.split_once(':') else {
            continue;
        };
        let property = property.trim().to_ascii_lowercase();
        let value = value.trim().trim_end_matches("!important").trim().to_ascii_lowercase();
        if KEPT_STYLES
            .iter()
            .any(|(name, values)| *name == property && values.contains(&value.as_str()))
        {
            kept.push(format!("{property}:{value}"));
        }
    }
    kept.join(";")
}

/// The text of a Word list marker (`·`, `o`, `§` in symbol fonts, or `1.`),
/// as a person would type it, followed by a space.
fn list_marker(section: &str) -> String {
    static TAG: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"<[^>]*>").unwrap_or_else(|e| unreachable!("constant regex: {e}")));
    let text = TAG.replace_all(section, "").replace("&nbsp;", " ");
    match text.trim() {
        "" => String::new(),
        "·" | "o" | "§" | "\u{f0b7}" | "\u{f0a7}" => "• ".to_owned(),
        marker => format!("{marker} "),
    }
}

/// Word's `<o:p>&nbsp;</o:p>` paragraphs: a run of empty ones becomes one.
fn tidy(html: &str) -> String {
    static EMPTY_PARAGRAPHS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?:<p>(?:<span>)?(?:&nbsp;|\s|\u{a0})*(?:</span>)?</p>\s*){2,}")
            .unwrap_or_else(|e| unreachable!("constant regex: {e}"))
    });
    EMPTY_PARAGRAPHS.replace_all(html, "<p>&nbsp;</p>\n").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::clean_pasted_html;

    /// What Word for Windows puts on the clipboard for a heading, a bold word,
    /// a link and a two-item bulleted list (abridged, markup as Word writes it).
    const WORD: &str = r#"<html xmlns:o="urn:schemas-microsoft-com:office:office" xmlns:w="urn:schemas-microsoft-com:office:word">
<head><meta name=Generator content="Microsoft Word 15"><title>Doc</title>
<!--[if gte mso 9]><xml><w:WordDocument><w:View>Normal</w:View><w:Zoom>0</w:Zoom></w:WordDocument></xml><![endif]-->
<style><!-- p.MsoNormal {margin:0cm; font-size:11.0pt; font-family:"Calibri",sans-serif;} --></style></head>
<body lang=EN-GB style='tab-interval:36.0pt'><!--StartFragment-->
<h1 style='mso-style-name:Heading1'><span lang=EN-GB>Spring offer<o:p></o:p></span></h1>
<p class=MsoNormal>Dear {{ first_name }}, this is <b><span style='font-size:12.0pt;mso-bidi-font-weight:bold'>important</span></b>.<o:p></o:p></p>
<p class=MsoNormal><o:p>&nbsp;</o:p></p>
<p class=MsoNormal><o:p>&nbsp;</o:p></p>
<p class=MsoNormal><o:p>&nbsp;</o:p></p>
<p class=MsoListParagraphCxSpFirst style='text-indent:-18.0pt;mso-list:l0 level1 lfo1'><![if !supportLists]><span style='font-family:Symbol;mso-fareast-font-family:Symbol'><span style='mso-list:Ignore'>·<span style='font:7.0pt "Times New Roman"'>&nbsp;&nbsp;&nbsp; </span></span></span><![endif]>First point<o:p></o:p></p>
<p class=MsoNormal>See <a href="https://example.org/offer?id=1">our offer</a>.<o:p></o:p></p>
<!--EndFragment--></body></html>"#;

    #[test]
    fn word_markup_is_reduced_to_the_text_and_its_emphasis() {
        let clean = clean_pasted_html(WORD);
        for garbage in [
            "mso-",
            "Mso",
            "<o:p",
            "xmlns",
            "<style",
            "Calibri",
            "<!--",
            "Normal",
            "supportLists",
            "·",
            "lang=",
            "Doc",
            "Times",
        ] {
            assert!(!clean.contains(garbage), "{garbage:?} left in:\n{clean}");
        }
        assert!(clean.contains("<h1><span>Spring offer</span></h1>"), "{clean}");
        assert!(
            clean.contains("Dear {{ first_name }}, this is <b><span>important</span></b>."),
            "{clean}"
        );
        assert!(clean.contains("<p>• First point</p>"), "{clean}");
        assert!(
            clean.contains(r#"<a href="https://example.org/offer?id=1">our offer</a>"#),
            "{clean}"
        );
        assert_eq!(
            clean.matches("&nbsp;").count(),
            1,
            "three empty paragraphs become one:\n{clean}"
        );
    }

    #[test]
    fn google_docs_wrapper_does_not_make_everything_bold_and_styled_emphasis_stays() {
        let docs = r#"<meta charset="utf-8"><b style="font-weight:normal;" id="docs-internal-guid-1a2b3c"><p dir="ltr" style="line-height:1.38;margin-top:0pt"><span style="font-size:11pt;font-family:Arial,sans-serif;color:#000000;font-weight:700;vertical-align:baseline">Bold words</span><span style="font-size:11pt;font-family:Arial;font-style:italic"> and italic</span><span style="font-size:11pt"> plain.</span></p></b>"#;
        let clean = clean_pasted_html(docs);
        assert!(!clean.contains("<b"), "{clean}");
        assert!(!clean.contains("Arial") && !clean.contains("font-size"), "{clean}");
        assert!(
            clean.contains(r#"<span style="font-weight:700">Bold words</span>"#),
            "{clean}"
        );
        assert!(
            clean.contains(r#"<span style="font-style:italic"> and italic</span>"#),
            "{clean}"
        );
        assert!(clean.contains("<span> plain.</span></p>"), "{clean}");
    }

    #[test]
    fn scripts_handlers_and_dangerous_links_never_survive() {
        let hostile = r#"<p onclick="steal()">Hi<script>alert(1)</script><img src="x" onerror="alert(2)"><a href="javascript:alert(3)">link</a><iframe src="https://evil.example"></iframe></p>"#;
        let clean = clean_pasted_html(hostile);
        for bad in ["onclick", "script", "alert", "onerror", "javascript:", "iframe"] {
            assert!(!clean.contains(bad), "{bad:?} left in {clean}");
        }
        assert!(clean.starts_with("<p>Hi<img src=\"x\">"), "{clean}");
    }

    #[test]
    fn tables_lists_and_images_by_url_are_kept() {
        let page = r#"<ul class="x"><li>One</li><li>Two</li></ul><table border="1"><tr><td colspan="2" bgcolor="red">Cell</td></tr></table><img src="https://example.org/logo.png" alt="Logo" width="120">"#;
        let clean = clean_pasted_html(page);
        assert!(clean.contains("<ul><li>One</li><li>Two</li></ul>"), "{clean}");
        assert!(clean.contains(r#"<td colspan="2">Cell</td>"#), "{clean}");
        assert!(
            clean.contains(r#"<img src="https://example.org/logo.png" alt="Logo" width="120">"#),
            "{clean}"
        );
    }

    #[test]
    fn any_input_comes_back_without_panicking() {
        for input in [
            "",
            "<",
            "<<<>>>",
            "<!--[if",
            "<![if !supportLists]>",
            "\u{0}\u{fffd}",
            "<p>unclosed",
        ] {
            let _ = clean_pasted_html(input);
        }
        assert_eq!(clean_pasted_html("plain text, no tags"), "plain text, no tags");
    }
}
