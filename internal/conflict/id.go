package conflict

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"
)

// ID limits: an ID is a DNS-1123 label (at most 63 characters), which is also
// a valid object name, ending in a hash of hashLen hex digits.
const (
	maxIDLen = 63
	hashLen  = 10
)

// ID returns the conflict ID of field (a JSON pointer) of obj on site. The ID
// is the Conflict object's name (SPEC §3), so it is deterministic: syncd finds
// the same object again after a restart instead of recording a duplicate.
//
// It reads as "<kind>-<name>-<hash>", lower-cased, with every run of
// characters outside [a-z0-9] turned into one dash and the kind and name cut
// so that the whole is at most 63 characters; the hash is the first 10 hex
// digits of a SHA-256 over site, apiVersion, kind, namespace, name and field,
// so two fields of one object get different IDs. The result is always a valid
// DNS-1123 label, e.g. "deployment-web-3f9a0c17be".
func ID(site string, obj ObjectRef, field string) string {
	sum := sha256.New()
	for _, part := range []string{site, obj.APIVersion, obj.Kind, obj.Namespace, obj.Name, field} {
		// Length-prefixed, so that no two different tuples hash the same input.
		var n [binary.MaxVarintLen64]byte
		sum.Write(n[:binary.PutUvarint(n[:], uint64(len(part)))])
		sum.Write([]byte(part))
	}
	hash := hex.EncodeToString(sum.Sum(nil))[:hashLen]

	prefix := idPart(obj.Kind + "-" + obj.Name)
	if room := maxIDLen - hashLen - 1; len(prefix) > room {
		prefix = strings.TrimRight(prefix[:room], "-")
	}
	if prefix == "" {
		return hash
	}
	return prefix + "-" + hash
}

// idPart lower-cases s, turns every run of characters outside [a-z0-9]
// into one dash and trims dashes at both ends.
func idPart(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	return b.String()
}
