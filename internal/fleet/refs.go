package fleet

// refs are the names that fleet files may refer to, collected before the
// files are decoded. A nil set means "unknown" and disables the check.
type refs struct {
	channels     map[string]int // channel name -> position in fleet.yaml
	channelOrder []string
	products     map[string]bool // directories under products/
	sites        map[string]bool // directories under sites/
	keys         map[string]bool // valid keys/<name>.pub
}

// known reports whether name is in set, or set is unknown.
func known(set map[string]bool, name string) bool {
	return set == nil || set[name]
}
