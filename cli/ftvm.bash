# SPDX-License-Identifier: MIT
# bash completion for ftvm: source it, or install it as /usr/share/bash-completion/completions/ftvm.

_ftvm_run_opts="--kernel --initrd --bios --append --disk --net --mem --smp --cpu --max-steps
	--virtual-clock --input-at --digest-at --no-console-input --stats --json --trace --help"
_ftvm_record_opts="--log --digest-interval --digest-hash --fsync --from --stop-snapshot --checkpoint-s"
_ftvm_pair_opts="--name --peer-name --certs --arbiter --log --fsync --control --vm-id --heartbeat-ms
	--dead-ms --kernel --initrd --bios --append --mem --smp --disk --net --cpu --help"
_ftvm_replay_opts="--kernel --initrd --bios --disk --cpu --from --then-live --then-record --fsync --net --quiet --stats --json
	--trace --perturb --bisect --help"

_ftvm()
{
	local cur prev cmd words
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	cmd=${COMP_WORDS[1]}

	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "run record replay primary backup status promote protect log certs snapshot version help --version --help" -- "$cur"))
		return
	fi
	# Option values first.
	case $prev in
	--kernel|--initrd|--bios|--log|--disk|--out|--control|--from)
		COMPREPLY=($(compgen -f -- "$cur"))
		return;;
	--certs)
		COMPREPLY=($(compgen -d -- "$cur"))
		return;;
	--cpu)
		COMPREPLY=($(compgen -W "interp jit" -- "$cur"))
		return;;
	--digest-hash)
		COMPREPLY=($(compgen -W "xxh3 sha256" -- "$cur"))
		return;;
	--net)
		COMPREPLY=($(compgen -W "user user,hostfwd=tcp::7000-:7000 none tap:" -- "$cur"))
		return;;
	--mem|--smp|--max-steps|--digest-interval|--digest-at|--input-at|--append|--perturb|--hosts|--at|--peer|--listen|--name|--peer-name|--arbiter|--vm-id|--heartbeat-ms|--dead-ms|--max-lag-ms|--buffer|--checkpoint-s|--handover-epoch)
		return;;
	esac
	case $cmd in
	run)	words="$_ftvm_run_opts --from";;
	record)	words="$_ftvm_run_opts $_ftvm_record_opts";;
	replay)
		if [[ $cur != -* ]]; then
			COMPREPLY=($(compgen -f -- "$cur"))
			return
		fi
		words=$_ftvm_replay_opts;;
	log)
		if [ "$COMP_CWORD" -eq 2 ]; then
			words="dump trim --help"
		elif [[ $cur == -* ]]; then
			[ "${COMP_WORDS[2]}" = trim ] && words="--from --help" || words="--json --help"
		else
			COMPREPLY=($(compgen -f -- "$cur"))
			return
		fi;;
	certs)
		if [ "$COMP_CWORD" -eq 2 ]; then
			words="init add --help"
		elif [[ $cur == -* ]]; then
			words="--hosts --force --help"
		else
			COMPREPLY=($(compgen -d -- "$cur"))
			return
		fi;;
	snapshot)
		if [ "$COMP_CWORD" -eq 2 ]; then
			words="save info --help"
		elif [ "${COMP_WORDS[2]}" = info ] && [[ $cur != -* ]]; then
			COMPREPLY=($(compgen -f -- "$cur"))
			return
		elif [ "${COMP_WORDS[2]}" = info ]; then
			words="--json --help"
		else
			words="--at --out --log --kernel --initrd --bios --append --disk --net --mem --smp --cpu --input-at --help"
		fi;;
	primary) words="--peer --listen --max-lag-ms --force-epoch --checkpoint-s --from $_ftvm_pair_opts";;
	backup)	words="--listen --peer --buffer --checkpoint-s --from --handover-epoch --take-back $_ftvm_pair_opts";;
	status)	words="--control --json --help";;
	promote) words="--control --help";;
	protect) words="--control --backup --backup-name --help";;
	version) words="--json --help";;
	help)	words="run record replay primary backup status promote protect log certs snapshot version";;
	*)	return;;
	esac
	COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o filenames -F _ftvm ftvm
