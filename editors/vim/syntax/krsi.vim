" Vim syntax file for krsi policies (.krsi). Also read by Neovim.
" Install: copy syntax/ and ftdetect/ into ~/.vim/ (or ~/.config/nvim/).
if exists("b:current_syntax")
  finish
endif

syntax keyword krsiAction deny allow audit
" `kill` is the action at the start of a rule or after `=>`, and elsewhere the signal event.
syntax match krsiAction "^\s*\zskill\>"
syntax match krsiAction "=>\s*\zskill\>"
syntax keyword krsiKeyword where errno test policy mode
syntax keyword krsiDefine list macro
syntax keyword krsiOperator and or not in
syntax keyword krsiBoolean true false
syntax match krsiComparison "==\|!=\|<=\|>=\|<\|>\|!\~\|\~\|&"
syntax match krsiArrow "=>"
syntax match krsiNumber "\<\(0[xX][0-9A-Fa-f_]\+\|0[oO][0-7_]\+\|0[bB][01_]\+\|\d[0-9_]*\)\>"
syntax match krsiAddress "\<\d\{1,3}\(\.\d\{1,3}\)\{3}\(/\d\+\)\?\>"
syntax match krsiConstant "\<[A-Z][A-Z0-9_]\+\>"
syntax match krsiAttribute "\<[a-z_][A-Za-z0-9_]*\(\.[A-Za-z_][A-Za-z0-9_]*\)\+\>"
syntax match krsiGlob contained "\*\*\|\*\|?"
syntax match krsiEscape contained "\\."
syntax region krsiString start=+"+ skip=+\\.+ end=+"\|$+ contains=krsiEscape,krsiGlob oneline
syntax match krsiComment "#.*$"

highlight default link krsiAction Statement
highlight default link krsiKeyword Keyword
highlight default link krsiDefine Structure
highlight default link krsiOperator Operator
highlight default link krsiComparison Operator
highlight default link krsiArrow Operator
highlight default link krsiBoolean Boolean
highlight default link krsiNumber Number
highlight default link krsiAddress Number
highlight default link krsiConstant Constant
highlight default link krsiAttribute Identifier
highlight default link krsiGlob SpecialChar
highlight default link krsiEscape SpecialChar
highlight default link krsiString String
highlight default link krsiComment Comment

let b:current_syntax = "krsi"
