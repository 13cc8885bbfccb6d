-- Drives `krsic lsp` from Neovim's own LSP client (headless): opens a policy with an error,
-- waits for its diagnostics, asks for hover, completion and the definition of a list, fixes the
-- text and waits for the diagnostics to clear. Each result is written to the file named by
-- $KRSI_NVIM_OUT as `key<TAB>value` lines, which nvim-lsp.test.sh checks.
local out = {}
local function record(key, value)
  table.insert(out, key .. '\t' .. tostring(value))
end
local function finish()
  vim.fn.writefile(out, os.getenv('KRSI_NVIM_OUT'))
  vim.cmd('qa!')
end

local client_id = vim.lsp.start_client({
  name = 'krsi',
  cmd = { os.getenv('KRSIC'), 'lsp', '--btf', os.getenv('KRSI_BTF') },
  root_dir = vim.fn.getcwd(),
})
record('client', client_id ~= nil)

vim.cmd('edit ' .. os.getenv('KRSI_POLICY'))
local buf = vim.api.nvim_get_current_buf()
vim.lsp.buf_attach_client(buf, client_id)

local function wait_for_diagnostics(count)
  return vim.wait(10000, function()
    return #vim.diagnostic.get(buf) == count
  end, 50)
end

record('errors_arrived', wait_for_diagnostics(1))
local d = vim.diagnostic.get(buf)[1] or {}
record('error_range', string.format('%s:%s-%s:%s', d.lnum, d.col, d.end_lnum, d.end_col))
record('error_code', d.code)
record('error_message', (d.message or ''):gsub('\n', ' '))

local function request(method, line, character)
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(buf) },
    position = { line = line, character = character },
  }
  local responses = vim.lsp.buf_request_sync(buf, method, params, 10000) or {}
  for _, response in pairs(responses) do
    return response.result
  end
end

-- line 1 (0-based) is `deny exec where path in shells and uid != 0 errno EACCESS`
local hover = request('textDocument/hover', 1, 17)
record('hover', hover and hover.contents.value:gsub('\n', ' ') or 'none')
local completion = request('textDocument/completion', 1, 16)
local labels = {}
for _, item in ipairs(completion or {}) do
  table.insert(labels, item.label)
end
record('completion', table.concat(labels, ','))
local definition = request('textDocument/definition', 1, 25)
record('definition', definition and string.format('%s:%s', definition.range.start.line,
  definition.range.start.character) or 'none')

-- Fix the typo as a user would, and the error goes away.
vim.api.nvim_buf_set_text(buf, 1, 50, 1, 57, { 'EACCES' })
record('cleared', wait_for_diagnostics(0))
finish()
