package app

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// Shell completion asks the binary itself: urfave/cli answers a command
// line ending in --generate-bash-completion with the words that may come
// next (subcommands, then flags), so the scripts stay a few lines and
// never fall behind the CLI.
const bashCompletion = `# anyhost bash completion: source it, or install it as
# /usr/share/bash-completion/completions/anyhost
_anyhost_complete() {
	local cur=${COMP_WORDS[COMP_CWORD]}
	local line=("${COMP_WORDS[@]:0:COMP_CWORD}")
	[[ $cur == -* ]] && line+=("$cur")
	local IFS=$'\n'
	COMPREPLY=($(compgen -W "$("${line[0]}" "${line[@]:1}" --generate-bash-completion 2>/dev/null)" -- "$cur"))
	[[ ${#COMPREPLY[@]} -eq 0 ]] && compopt -o default 2>/dev/null
	return 0
}
complete -F _anyhost_complete anyhost
`

const zshCompletion = `#compdef anyhost
# anyhost zsh completion: put it on $fpath as _anyhost
_anyhost() {
	local -a next
	local cur=${words[CURRENT]}
	local -a line=("${(@)words[1,CURRENT-1]}")
	[[ $cur == -* ]] && line+=("$cur")
	next=("${(@f)$("${line[1]}" "${(@)line[2,-1]}" --generate-bash-completion 2>/dev/null)}")
	if [[ -n ${next[1]} ]]; then
		compadd -- "${next[@]}"
	else
		_files
	fi
}
compdef _anyhost anyhost
`

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:  "completion",
		Usage: "print the shell completion script for bash, zsh or fish",
		UsageText: "anyhost completion bash|zsh|fish\n\n" +
			"source <(anyhost completion bash)\n" +
			"anyhost completion zsh > \"${fpath[1]}/_anyhost\"\n" +
			"anyhost completion fish > ~/.config/fish/completions/anyhost.fish",
		Action: func(c *cli.Context) error {
			switch shell := c.Args().First(); shell {
			case "bash":
				fmt.Fprint(c.App.Writer, bashCompletion)
			case "zsh":
				fmt.Fprint(c.App.Writer, zshCompletion)
			case "fish":
				script, err := c.App.ToFishCompletion()
				if err != nil {
					return cli.Exit("completion fish: "+err.Error(), 1)
				}
				fmt.Fprint(c.App.Writer, script)
			default:
				return cli.Exit(fmt.Sprintf("completion: give a shell: bash, zsh or fish (not %q)", shell), 2)
			}
			return nil
		},
	}
}

func manCommand() *cli.Command {
	return &cli.Command{
		Name:      "man",
		Usage:     "print the manual page (roff), generated from the command definitions",
		UsageText: "anyhost man > /usr/local/share/man/man1/anyhost.1",
		Action: func(c *cli.Context) error {
			page, err := c.App.ToManWithSection(1)
			if err != nil {
				return cli.Exit("man: "+err.Error(), 1)
			}
			fmt.Fprint(c.App.Writer, strings.TrimLeft(page, "\n"))
			return nil
		},
	}
}
