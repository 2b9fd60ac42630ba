/**
 * `basyn --completion bash`: a bash completion script made from the option schema,
 * so every option, and the names a choice takes (actions, modes, hashes, codecs...),
 * is offered as the command line parser knows it. What a value completes to follows
 * its placeholder: files for PATH and FILE (devices, images, bitmaps, node), host
 * names for HOST, user names for USER, commands for COMMAND; nothing for numbers.
 */
import { OPTION_SCHEMA, type OptionEntry } from '../options/option-schema.js';

const BY_PLACEHOLDER: Record<string, string> = {
  PATH: 'compgen -f --',
  FILE: 'compgen -f --',
  HOST: 'compgen -A hostname --',
  USER: 'compgen -u --',
  COMMAND: 'compgen -c --',
};

function spellings(e: OptionEntry): string {
  return [...(e.short !== undefined ? [`-${e.short}`] : []), `--${e.long}`].join('|');
}

/** One `case` branch: how the value of a value-taking option completes. */
function valueBranch(e: OptionEntry): string {
  if (e.kind.names !== undefined) {
    return `    ${spellings(e)}) choices=${JSON.stringify(e.kind.names.join(' '))} ;;`;
  }
  const generator = BY_PLACEHOLDER[e.help.placeholder ?? ''];
  if (generator === undefined) return `    ${spellings(e)}) return 0 ;;`;
  const files = generator.startsWith('compgen -f') ? '\n      compopt -o filenames 2>/dev/null' : '';
  return `    ${spellings(e)})\n      mapfile -t COMPREPLY < <(${generator} "$cur")${files}\n      _basyn_prefix "$prefix"\n      return 0 ;;`;
}

export function bashCompletion(): string {
  const names = OPTION_SCHEMA.flatMap((e) => [`--${e.long}`, ...(e.short !== undefined ? [`-${e.short}`] : [])]).join(' ');
  const branches = OPTION_SCHEMA.filter((e) => e.kind.takesValue).map(valueBranch).join('\n');
  return `# bash completion for basyn, made by \`basyn --completion bash\` from basyn's options.
# Load it in ~/.bashrc with: source <(basyn --completion bash)
# or install it: basyn --completion bash > ~/.local/share/bash-completion/completions/basyn

# With "=" not among COMP_WORDBREAKS, the word is --name=value: the replies need "--name=".
_basyn_prefix() {
  local i
  [[ -n $1 ]] || return 0
  for i in "\${!COMPREPLY[@]}"; do COMPREPLY[i]="$1\${COMPREPLY[i]}"; done
}

_basyn() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev="" prefix="" choices=""
  COMPREPLY=()
  # bash splits --name=value at "=" (COMP_WORDBREAKS): "--name" "=" "value".
  if [[ $cur == = ]]; then
    cur="" prev=\${COMP_WORDS[COMP_CWORD-1]}
  elif (( COMP_CWORD >= 2 )) && [[ \${COMP_WORDS[COMP_CWORD-1]} == = ]]; then
    prev=\${COMP_WORDS[COMP_CWORD-2]}
  elif [[ $cur == --*=* ]]; then
    prev=\${cur%%=*} prefix="\${cur%%=*}=" cur=\${cur#*=}
  elif (( COMP_CWORD >= 1 )); then
    prev=\${COMP_WORDS[COMP_CWORD-1]}
  fi
  case $prev in
${branches}
  esac
  if [[ -n $choices ]]; then
    # Names are case-insensitive: offered in the case being typed.
    [[ $cur == [a-z]* ]] && choices=\${choices,,}
    mapfile -t COMPREPLY < <(compgen -W "$choices" -- "$cur")
    _basyn_prefix "$prefix"
    return 0
  fi
  mapfile -t COMPREPLY < <(compgen -W ${JSON.stringify(names)} -- "$cur")
}

complete -F _basyn basyn
`;
}
