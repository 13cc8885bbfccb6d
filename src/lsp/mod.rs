//! `krsic lsp`: a Language Server over stdio, on `lsp-server` (rust-analyzer's transport) and
//! `lsp-types`. The protocol is handled here; what the answers say is computed in
//! [`analysis`], from the document's text and the target kernel's types.
//!
//! Documents are synchronised in full (every change sends the whole text: policies are small),
//! and diagnostics are published after every change. A request that cannot be answered (a
//! document the client never opened, a position past the end) gets an empty answer, never an
//! error that would upset the editor.

pub mod analysis;

use crate::error::Error;
use analysis::{CompletionKind, LineIndex, SymbolKind};
use lang::diagnostic::Severity;
use lang::kernel::KernelTypes;
use lang::span::Span;
use lsp_server::{Connection, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument,
    Notification as NotificationTrait, PublishDiagnostics, ShowMessage,
};
use lsp_types::request::{
    CodeActionRequest, Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest,
    References, Request as RequestTrait,
};
use lsp_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, CodeActionProviderCapability, CompletionItem,
    CompletionItemKind, CompletionOptions, CompletionResponse, DiagnosticRelatedInformation,
    DiagnosticSeverity, DocumentSymbol, DocumentSymbolResponse, GotoDefinitionResponse, Hover,
    HoverContents, HoverProviderCapability, Location, MarkupContent, MarkupKind, MessageType,
    NumberOrString, OneOf, Position, PublishDiagnosticsParams, Range, ServerCapabilities,
    ShowMessageParams, TextDocumentSyncCapability, TextDocumentSyncKind, TextEdit, Uri,
    WorkspaceEdit,
};
use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;

/// Runs the server on stdin/stdout until the client shuts it down.
pub fn serve(btf: Option<&Path>) -> Result<ExitCode, Error> {
    let (connection, io_threads) = Connection::stdio();
    let capabilities = ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![" ".into(), ".".into()]),
            ..CompletionOptions::default()
        }),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
        ..ServerCapabilities::default()
    };
    let capabilities =
        serde_json::to_value(capabilities).map_err(|e| Error::LanguageServer(e.to_string()))?;
    connection
        .initialize(capabilities)
        .map_err(|e| Error::LanguageServer(format!("the client did not initialise: {e}")))?;

    let kernel = crate::target::kernel_types(btf);
    let mut server = Server {
        connection: &connection,
        documents: HashMap::new(),
        kernel: kernel.as_ref().ok().map(|k| k as &dyn KernelTypes),
    };
    if let Err(error) = &kernel {
        // Without the kernel's types only syntax is checked; say so once, not per document.
        server.notify::<ShowMessage>(ShowMessageParams {
            typ: MessageType::WARNING,
            message: format!("krsi: only syntax is checked: {error}"),
        });
    }
    let served = server.run();
    // The writer thread ends when the last sender does: drop the connection before joining.
    drop(server);
    drop(connection);
    served?;
    io_threads
        .join()
        .map_err(|e| Error::LanguageServer(e.to_string()))?;
    Ok(ExitCode::SUCCESS)
}

struct Server<'c> {
    connection: &'c Connection,
    documents: HashMap<Uri, String>,
    kernel: Option<&'c dyn KernelTypes>,
}

impl Server<'_> {
    fn run(&mut self) -> Result<(), Error> {
        for message in &self.connection.receiver {
            match message {
                Message::Request(request) => {
                    let shutdown = self
                        .connection
                        .handle_shutdown(&request)
                        .map_err(|e| Error::LanguageServer(e.to_string()))?;
                    if shutdown {
                        return Ok(());
                    }
                    let response = self.answer(request);
                    self.send(Message::Response(response));
                }
                Message::Notification(notification) => self.on_notification(notification),
                Message::Response(_) => {}
            }
        }
        Ok(())
    }

    fn send(&self, message: Message) {
        // The client went away: the loop ends when the receiver does.
        let _ = self.connection.sender.send(message);
    }

    fn notify<N: NotificationTrait>(&self, params: N::Params) {
        self.send(Message::Notification(Notification::new(
            N::METHOD.to_string(),
            params,
        )));
    }

    fn on_notification(&mut self, notification: Notification) {
        let uri = match notification.method.as_str() {
            DidOpenTextDocument::METHOD => {
                let Ok(params) = notification
                    .extract::<lsp_types::DidOpenTextDocumentParams>(DidOpenTextDocument::METHOD)
                else {
                    return;
                };
                let uri = params.text_document.uri;
                self.documents
                    .insert(uri.clone(), params.text_document.text);
                uri
            }
            DidChangeTextDocument::METHOD => {
                let Ok(params) = notification.extract::<lsp_types::DidChangeTextDocumentParams>(
                    DidChangeTextDocument::METHOD,
                ) else {
                    return;
                };
                // Full synchronisation: the last change holds the whole text.
                let Some(change) = params.content_changes.into_iter().last() else {
                    return;
                };
                let uri = params.text_document.uri;
                self.documents.insert(uri.clone(), change.text);
                uri
            }
            DidCloseTextDocument::METHOD => {
                if let Ok(params) = notification
                    .extract::<lsp_types::DidCloseTextDocumentParams>(DidCloseTextDocument::METHOD)
                {
                    self.documents.remove(&params.text_document.uri);
                    self.publish(params.text_document.uri, Vec::new());
                }
                return;
            }
            _ => return,
        };
        let diagnostics = self.diagnostics(&uri);
        self.publish(uri, diagnostics);
    }

    fn publish(&self, uri: Uri, diagnostics: Vec<lsp_types::Diagnostic>) {
        self.notify::<PublishDiagnostics>(PublishDiagnosticsParams {
            uri,
            diagnostics,
            version: None,
        });
    }

    fn diagnostics(&self, uri: &Uri) -> Vec<lsp_types::Diagnostic> {
        let Some(source) = self.documents.get(uri) else {
            return Vec::new();
        };
        let index = LineIndex::new(source);
        analysis::diagnostics(source, self.kernel)
            .into_iter()
            .map(|d| lsp_types::Diagnostic {
                range: range(&index, d.span),
                severity: Some(match d.severity {
                    Severity::Error => DiagnosticSeverity::ERROR,
                    Severity::Warning => DiagnosticSeverity::WARNING,
                }),
                code: Some(NumberOrString::String(d.code.to_string())),
                source: Some("krsi".to_string()),
                message: d.message,
                related_information: (!d.related.is_empty()).then(|| {
                    d.related
                        .iter()
                        .map(|(span, message)| DiagnosticRelatedInformation {
                            location: Location::new(uri.clone(), range(&index, *span)),
                            message: message.clone(),
                        })
                        .collect()
                }),
                data: d.suggestion.map(serde_json::Value::String),
                ..lsp_types::Diagnostic::default()
            })
            .collect()
    }

    fn answer(&self, request: Request) -> Response {
        let id = request.id.clone();
        let result = match request.method.as_str() {
            HoverRequest::METHOD => self.with_params::<HoverRequest>(request, |s, p| {
                let at = &p.text_document_position_params;
                s.at(&at.text_document.uri, at.position, |source, offset| {
                    analysis::hover(source, offset, s.kernel).map(|text| Hover {
                        contents: HoverContents::Markup(MarkupContent {
                            kind: MarkupKind::Markdown,
                            value: text,
                        }),
                        range: None,
                    })
                })
                .flatten()
            }),
            Completion::METHOD => self.with_params::<Completion>(request, |s, p| {
                let at = &p.text_document_position;
                s.at(&at.text_document.uri, at.position, |source, offset| {
                    CompletionResponse::Array(
                        analysis::completions(source, offset)
                            .into_iter()
                            .map(completion_item)
                            .collect(),
                    )
                })
            }),
            GotoDefinition::METHOD => self.with_params::<GotoDefinition>(request, |s, p| {
                let at = &p.text_document_position_params;
                let uri = &at.text_document.uri;
                s.at(uri, at.position, |source, offset| {
                    analysis::definition(source, offset).map(|span| {
                        GotoDefinitionResponse::Scalar(Location::new(
                            uri.clone(),
                            range(&LineIndex::new(source), span),
                        ))
                    })
                })
                .flatten()
            }),
            References::METHOD => self.with_params::<References>(request, |s, p| {
                let at = &p.text_document_position;
                let uri = &at.text_document.uri;
                s.at(uri, at.position, |source, offset| {
                    let index = LineIndex::new(source);
                    analysis::references(source, offset)
                        .into_iter()
                        .map(|span| Location::new(uri.clone(), range(&index, span)))
                        .collect::<Vec<_>>()
                })
            }),
            DocumentSymbolRequest::METHOD => {
                self.with_params::<DocumentSymbolRequest>(request, |s, p| {
                    let source = s.documents.get(&p.text_document.uri)?;
                    let index = LineIndex::new(source);
                    #[allow(deprecated)] // `deprecated` is a required field of the struct
                    let symbols = analysis::symbols(source)
                        .into_iter()
                        .map(|symbol| DocumentSymbol {
                            name: symbol.name,
                            detail: None,
                            kind: match symbol.kind {
                                SymbolKind::Policy => lsp_types::SymbolKind::NAMESPACE,
                                SymbolKind::List => lsp_types::SymbolKind::ARRAY,
                                SymbolKind::Macro => lsp_types::SymbolKind::FUNCTION,
                                SymbolKind::Rule => lsp_types::SymbolKind::EVENT,
                                SymbolKind::Test => lsp_types::SymbolKind::METHOD,
                            },
                            tags: None,
                            deprecated: None,
                            range: range(&index, symbol.span),
                            selection_range: range(&index, symbol.name_span),
                            children: None,
                        })
                        .collect();
                    Some(DocumentSymbolResponse::Nested(symbols))
                })
            }
            Formatting::METHOD => self.with_params::<Formatting>(request, |s, p| {
                let source = s.documents.get(&p.text_document.uri)?;
                // Text with syntax errors is left alone; its diagnostics say why.
                let formatted = lang::format::format(source).ok()?;
                let index = LineIndex::new(source);
                Some(vec![TextEdit {
                    range: range(&index, Span::new(0, source.len())),
                    new_text: formatted,
                }])
            }),
            CodeActionRequest::METHOD => self.with_params::<CodeActionRequest>(request, |_, p| {
                let uri = &p.text_document.uri;
                let actions: Vec<CodeActionOrCommand> = p
                    .context
                    .diagnostics
                    .iter()
                    .filter_map(|d| {
                        let suggestion = d.data.as_ref()?.as_str()?.to_string();
                        let edit = TextEdit {
                            range: d.range,
                            new_text: suggestion.clone(),
                        };
                        Some(CodeActionOrCommand::CodeAction(CodeAction {
                            title: format!("replace with `{suggestion}`"),
                            kind: Some(CodeActionKind::QUICKFIX),
                            diagnostics: Some(vec![d.clone()]),
                            edit: Some(WorkspaceEdit {
                                changes: Some(HashMap::from([(uri.clone(), vec![edit])])),
                                ..WorkspaceEdit::default()
                            }),
                            is_preferred: Some(true),
                            ..CodeAction::default()
                        }))
                    })
                    .collect();
                Some(actions)
            }),
            _ => {
                return Response::new_err(
                    id,
                    lsp_server::ErrorCode::MethodNotFound as i32,
                    format!("krsic lsp does not answer `{}`", request.method),
                )
            }
        };
        match result {
            Ok(value) => Response::new_ok(id, value),
            Err(message) => {
                Response::new_err(id, lsp_server::ErrorCode::InvalidParams as i32, message)
            }
        }
    }

    /// Decodes the request's parameters and answers with what `answer` returns.
    fn with_params<R: RequestTrait>(
        &self,
        request: Request,
        answer: impl FnOnce(&Self, R::Params) -> R::Result,
    ) -> Result<serde_json::Value, String> {
        let (_, params): (RequestId, R::Params) = request
            .extract(R::METHOD)
            .map_err(|e| format!("bad parameters for `{}`: {e:?}", R::METHOD))?;
        serde_json::to_value(answer(self, params)).map_err(|e| e.to_string())
    }

    /// `answer(text, byte offset)` for a position in an open document.
    fn at<T>(
        &self,
        uri: &Uri,
        position: Position,
        answer: impl FnOnce(&str, usize) -> T,
    ) -> Option<T> {
        let source = self.documents.get(uri)?;
        let offset = LineIndex::new(source).offset(position.line, position.character);
        Some(answer(source, offset))
    }
}

fn range(index: &LineIndex<'_>, span: Span) -> Range {
    let (start_line, start_column) = index.position(span.start as usize);
    let (end_line, end_column) = index.position(span.end as usize);
    Range::new(
        Position::new(start_line, start_column),
        Position::new(end_line, end_column),
    )
}

fn completion_item(completion: analysis::Completion) -> CompletionItem {
    CompletionItem {
        label: completion.label,
        kind: Some(match completion.kind {
            CompletionKind::Keyword => CompletionItemKind::KEYWORD,
            CompletionKind::Event => CompletionItemKind::EVENT,
            CompletionKind::Attribute => CompletionItemKind::FIELD,
            CompletionKind::Definition => CompletionItemKind::VARIABLE,
            CompletionKind::Constant => CompletionItemKind::CONSTANT,
        }),
        detail: (!completion.detail.is_empty()).then_some(completion.detail),
        ..CompletionItem::default()
    }
}
