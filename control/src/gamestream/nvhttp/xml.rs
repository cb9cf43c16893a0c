//! The XML replies of nvhttp: a declaration and one `<root status_code="...">` element
//! holding flat children, written on one line as Sunshine does.

/// Escapes text for element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A reply being built.
#[derive(Debug, Clone)]
pub struct Xml {
    s: String,
    /// The `<root ...` start tag is still open (attributes can be added).
    tag_open: bool,
    /// `<root .../>` with no children.
    empty: bool,
}

impl Xml {
    /// `<root status_code="status">`.
    pub fn root(status: u16) -> Self {
        Self {
            s: format!("<?xml version=\"1.0\" encoding=\"utf-8\"?><root status_code=\"{status}\""),
            tag_open: true,
            empty: false,
        }
    }

    /// `<root status_code="status" status_message="message">`.
    pub fn root_msg(status: u16, message: &str) -> Self {
        Self::root(status).with_attr("status_message", message)
    }

    /// Adds an attribute to `<root>` (before any child).
    pub fn with_attr(mut self, name: &str, value: &str) -> Self {
        if self.tag_open {
            self.s.push_str(&format!(" {name}=\"{}\"", escape(value)));
        }
        self
    }

    /// Makes `<root .../>` self-closing (no children).
    pub fn empty(mut self) -> Self {
        self.empty = true;
        self
    }

    fn close_tag(&mut self) {
        if self.tag_open {
            self.s.push('>');
            self.tag_open = false;
        }
    }

    /// `<name>text</name>`.
    pub fn el(mut self, name: &str, text: &str) -> Self {
        self.close_tag();
        self.s
            .push_str(&format!("<{name}>{}</{name}>", escape(text)));
        self
    }

    /// `<name>` (children follow).
    pub fn open(mut self, name: &str) -> Self {
        self.close_tag();
        self.s.push_str(&format!("<{name}>"));
        self
    }

    /// `</name>`.
    pub fn close(mut self, name: &str) -> Self {
        self.s.push_str(&format!("</{name}>"));
        self
    }

    /// The finished document.
    pub fn finish(mut self) -> String {
        if self.empty && self.tag_open {
            self.s.push_str("/>");
        } else {
            self.close_tag();
            self.s.push_str("</root>");
        }
        self.s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(
            Xml::root(200).el("paired", "1").finish(),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><root status_code=\"200\"><paired>1</paired></root>"
        );
        assert_eq!(
            Xml::root_msg(401, "no")
                .with_attr("query", "/applist")
                .empty()
                .finish(),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><root status_code=\"401\" status_message=\"no\" query=\"/applist\"/>"
        );
        assert_eq!(
            Xml::root(404).finish(),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><root status_code=\"404\"></root>"
        );
        assert!(
            Xml::root(200)
                .el("AppTitle", "A&B <x>")
                .finish()
                .contains("A&amp;B &lt;x&gt;")
        );
    }
}
