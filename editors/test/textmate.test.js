// Tokenizes krsi policies with editors/vscode's TextMate grammar through vscode-textmate and
// Oniguruma, the engine VS Code itself uses, and checks the scope of each interesting token.
// Also checks that every keyword of grammar.pest is highlighted as a keyword.
'use strict';
const fs = require('fs');
const path = require('path');
const assert = require('assert');
const oniguruma = require('vscode-oniguruma');
const textmate = require('vscode-textmate');

const repo = path.resolve(__dirname, '..', '..');
const grammarPath = path.join(repo, 'editors', 'vscode', 'syntaxes', 'krsi.tmLanguage.json');

async function loadGrammar() {
  const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm')).buffer;
  await oniguruma.loadWASM(wasm);
  const registry = new textmate.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async () =>
      textmate.parseRawGrammar(fs.readFileSync(grammarPath, 'utf8'), grammarPath),
  });
  return registry.loadGrammar('source.krsi');
}

// The innermost scope of each token of `line`, as [text, scope] pairs.
function tokens(grammar, line) {
  const { tokens } = grammar.tokenizeLine(line, textmate.INITIAL);
  return tokens.map((t) => [line.slice(t.startIndex, t.endIndex), t.scopes[t.scopes.length - 1]]);
}

function scopeOf(grammar, line, text) {
  const found = tokens(grammar, line).find(([t]) => t === text);
  assert.ok(found, `no token '${text}' in ${JSON.stringify(tokens(grammar, line))}`);
  return found[1];
}

const expectations = [
  ['deny exec where path ~ "/tmp/**" and uid != 0', [
    ['deny', 'keyword.control.action.krsi'],
    ['exec', 'entity.name.type.event.krsi'],
    ['where', 'keyword.other.where.krsi'],
    ['path', 'variable.other.krsi'],
    ['~', 'keyword.operator.comparison.krsi'],
    ['**', 'keyword.operator.glob.krsi'],
    ['and', 'keyword.operator.logical.krsi'],
    ['!=', 'keyword.operator.comparison.krsi'],
    ['0', 'constant.numeric.integer.krsi'],
  ]],
  ['list world_writable = ["/tmp/**", "/var/tmp/**"]  # shared dirs', [
    ['list', 'storage.type.krsi'],
    ['world_writable', 'entity.name.function.krsi'],
    ['# shared dirs', 'comment.line.number-sign.krsi'],
  ]],
  ['deny open where path == "/etc/shadow" and write errno EACCES', [
    ['errno', 'keyword.other.errno.krsi'],
    ['EACCES', 'constant.other.errno.krsi'],
  ]],
  ['deny connect where daddr in 10.0.0.0/8 and parent.comm != "sshd" and family == AF_INET', [
    ['10.0.0.0/8', 'constant.numeric.address.krsi'],
    ['parent.comm', 'variable.other.attribute.krsi'],
    ['AF_INET', 'constant.other.enum.krsi'],
  ]],
  ['test exec { path: "/tmp/x", uid: 1000 } => deny EPERM', [
    ['test', 'keyword.other.test.krsi'],
    ['exec', 'entity.name.type.event.krsi'],
    ['path', 'variable.other.attribute.krsi'],
    ['=>', 'keyword.operator.arrow.krsi'],
    ['deny', 'keyword.control.action.krsi'],
    ['EPERM', 'constant.other.errno.krsi'],
  ]],
  ['kill exec where path ~ "/tmp/**" errno EACCES', [
    ['kill', 'keyword.control.action.krsi'],
    ['exec', 'entity.name.type.event.krsi'],
    ['EACCES', 'constant.other.errno.krsi'],
  ]],
  ['deny kill where sig == SIGKILL', [
    ['deny', 'keyword.control.action.krsi'],
    ['kill', 'entity.name.type.event.krsi'],
  ]],
  ['test exec { path: "/tmp/x" } => kill', [
    ['=>', 'keyword.operator.arrow.krsi'],
    ['kill', 'keyword.control.action.krsi'],
  ]],
  ['policy locked_down', [
    ['policy', 'keyword.other.policy.krsi'],
    ['locked_down', 'entity.name.namespace.krsi'],
  ]],
  ['mode audit', [['mode', 'keyword.other.mode.krsi'], ['audit', 'constant.language.mode.krsi']]],
  ['macro privileged = uid == 0 or not (euid != 0)', [
    ['macro', 'storage.type.krsi'],
    ['privileged', 'entity.name.function.krsi'],
    ['or', 'keyword.operator.logical.krsi'],
    ['not', 'keyword.operator.logical.krsi'],
  ]],
  ['deny open where path ~ "/a\\"b[!x-z]{c,d}?" and dir == true', [
    ['\\"', 'constant.character.escape.krsi'],
    ['[!x-z]', 'constant.other.character-class.krsi'],
    ['?', 'keyword.operator.glob.krsi'],
    ['true', 'constant.language.boolean.krsi'],
  ]],
];

// The keywords the parser reserves, read from grammar.pest's `keyword` rule, and where each
// must be highlighted.
function pestKeywords() {
  const pest = fs.readFileSync(path.join(repo, 'grammar.pest'), 'utf8');
  const rule = pest.match(/^keyword\s*=\s*@\{([\s\S]*?)\n\}/m);
  assert.ok(rule, 'grammar.pest has a keyword rule');
  const words = [...rule[1].matchAll(/"([a-z]+)"/g)].map((m) => m[1]);
  assert.ok(words.length >= 10, `too few keywords read: ${words}`);
  return words;
}

(async () => {
  const grammar = await loadGrammar();
  let checked = 0;
  for (const [line, wanted] of expectations) {
    for (const [text, scope] of wanted) {
      assert.strictEqual(scopeOf(grammar, line, text), scope, `'${text}' in: ${line}`);
      checked++;
    }
  }
  // Every reserved word is highlighted as something other than a plain name where it may
  // appear; a word added to the grammar but not here fails.
  for (const word of pestKeywords()) {
    const line = `${word} exec where uid == 0 ${word}`;
    const scope = scopeOf(grammar, line, word);
    assert.ok(!scope.startsWith('variable.') && scope !== 'source.krsi',
      `keyword '${word}' is not highlighted as a keyword (${scope})`);
    checked++;
  }
  // Every policy the project ships tokenizes, and its comments are comments.
  for (const dir of ['examples', 'stdlib-policies']) {
    for (const file of fs.readdirSync(path.join(repo, dir)).filter((f) => f.endsWith('.krsi'))) {
      let state = textmate.INITIAL;
      for (const line of fs.readFileSync(path.join(repo, dir, file), 'utf8').split('\n')) {
        const result = grammar.tokenizeLine(line, state);
        state = result.ruleStack;
        if (line.startsWith('#')) {
          assert.ok(result.tokens[0].scopes.includes('comment.line.number-sign.krsi'), `${file}: ${line}`);
        }
      }
      checked++;
    }
  }
  console.log(`textmate grammar: ${checked} checks passed`);
})().catch((e) => {
  console.error(e.message || e);
  process.exit(1);
});
