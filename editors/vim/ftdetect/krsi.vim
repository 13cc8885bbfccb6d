" krsi policies
autocmd BufRead,BufNewFile *.krsi setfiletype krsi
