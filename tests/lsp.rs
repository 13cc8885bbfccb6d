//! `krsic lsp` spoken to as an editor does: JSON-RPC over the process's stdin and stdout.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{ChildStdin, ChildStdout, Command, Stdio};

struct Client {
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: u64,
}

impl Client {
    fn send(&mut self, message: Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn receive(&mut self) -> Value {
        let mut length = None;
        loop {
            let mut line = String::new();
            assert!(
                self.stdout.read_line(&mut line).unwrap() > 0,
                "server closed"
            );
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(n) = line.strip_prefix("Content-Length: ") {
                length = Some(n.parse::<usize>().unwrap());
            }
        }
        let mut body = vec![0; length.expect("a Content-Length header")];
        self.stdout.read_exact(&mut body).unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let message = self.receive();
            if message["id"] == json!(id) {
                assert!(message.get("error").is_none(), "{message}");
                return message["result"].clone();
            }
        }
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// The next diagnostics published for `uri`.
    fn diagnostics(&mut self, uri: &str) -> Vec<Value> {
        loop {
            let message = self.receive();
            if message["method"] == "textDocument/publishDiagnostics"
                && message["params"]["uri"] == uri
            {
                return message["params"]["diagnostics"].as_array().unwrap().clone();
            }
        }
    }
}

const URI: &str = "file:///policies/p.krsi";

fn position(line: u32, character: u32) -> Value {
    json!({"textDocument": {"uri": URI}, "position": {"line": line, "character": character}})
}

#[test]
fn an_editor_session() {
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/btf/host-6.18.btf");
    let mut child = Command::new(env!("CARGO_BIN_EXE_krsic"))
        .args(["lsp", "--btf", fixture.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut client = Client {
        stdin: child.stdin.take().unwrap(),
        stdout: BufReader::new(child.stdout.take().unwrap()),
        next_id: 0,
    };
    let init = client.request("initialize", json!({"capabilities": {}}));
    let capabilities = &init["capabilities"];
    for provider in [
        "hoverProvider",
        "completionProvider",
        "definitionProvider",
        "referencesProvider",
        "documentSymbolProvider",
        "documentFormattingProvider",
        "codeActionProvider",
    ] {
        assert!(!capabilities[provider].is_null(), "no {provider}: {init}");
    }
    client.notify("initialized", json!({}));

    // A typo in the event: an error with a quick fix.
    let text = "list shells = [\"/bin/sh\"]\ndeny exce where path in shells\n";
    client.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": URI, "languageId": "krsi", "version": 1, "text": text}}),
    );
    let diagnostics = client.diagnostics(URI);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    let typo = &diagnostics[0];
    assert_eq!(typo["severity"], 1);
    assert!(typo["code"].as_str().unwrap().starts_with('E'), "{typo}");
    assert_eq!(typo["range"]["start"], json!({"line": 1, "character": 5}));
    assert_eq!(typo["range"]["end"], json!({"line": 1, "character": 9}));
    assert!(
        typo["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `exec`?"),
        "{typo}"
    );
    let actions = client.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": URI}, "range": typo["range"], "context": {"diagnostics": [typo]}}),
    );
    let edit = &actions[0]["edit"]["changes"][URI][0];
    assert_eq!(edit["newText"], "exec", "{actions}");
    assert_eq!(actions[0]["kind"], "quickfix");

    // Fixed, but badly laid out: no diagnostics, and formatting rewrites it.
    let text = "list shells = [\"/bin/sh\"]\ndeny   exec where path in shells and uid!=0\n";
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": URI, "version": 2}, "contentChanges": [{"text": text}]}),
    );
    assert_eq!(client.diagnostics(URI), Vec::<Value>::new());
    let edits = client.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": URI}, "options": {"tabSize": 4, "insertSpaces": true}}),
    );
    assert_eq!(
        edits[0]["newText"],
        "list shells = [\"/bin/sh\"]\ndeny exec where path in shells and uid != 0\n"
    );

    let hover = client.request("textDocument/hover", position(1, 8));
    let hover = hover["contents"]["value"].as_str().unwrap();
    assert!(
        hover.contains("bprm_check_security") && hover.contains("(in the kernel of `"),
        "{hover}"
    );
    let hover = client.request("textDocument/hover", position(1, 19));
    assert!(
        hover["contents"]["value"]
            .as_str()
            .unwrap()
            .starts_with("`path`"),
        "{hover}"
    );

    let completion = client.request("textDocument/completion", position(1, 18));
    let labels: Vec<&str> = completion
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["label"].as_str().unwrap())
        .collect();
    assert!(
        labels.contains(&"path") && labels.contains(&"shells"),
        "{labels:?}"
    );

    let definition = client.request("textDocument/definition", position(1, 27));
    assert_eq!(
        definition["range"]["start"],
        json!({"line": 0, "character": 5})
    );
    let references = client.request(
        "textDocument/references",
        json!({"textDocument": {"uri": URI}, "position": {"line": 0, "character": 6}, "context": {"includeDeclaration": true}}),
    );
    assert_eq!(references.as_array().unwrap().len(), 2, "{references}");
    let symbols = client.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": URI}}),
    );
    let names: Vec<&str> = symbols
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["shells", "deny exec"]);

    // A request about a document never opened is answered, with nothing.
    let nothing = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": "file:///other.krsi"}, "position": {"line": 0, "character": 0}}),
    );
    assert!(nothing.is_null());

    client.request("shutdown", Value::Null);
    client.notify("exit", Value::Null);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}
