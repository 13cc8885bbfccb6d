// Starts `krsic lsp` for .krsi files. Settings: `krsi.path` (the krsic executable, default
// `krsic` on PATH) and `krsi.btf` (a BTF file to check against instead of the running
// kernel's /sys/kernel/btf/vmlinux, e.g. a target fleet's kernel).
'use strict';
const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration('krsi');
  const args = ['lsp'];
  const btf = config.get('btf');
  if (btf) {
    args.push('--btf', btf);
  }
  const server = { command: config.get('path') || 'krsic', args };
  client = new LanguageClient(
    'krsi',
    'krsi language server',
    { run: server, debug: server },
    { documentSelector: [{ scheme: 'file', language: 'krsi' }] },
  );
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
