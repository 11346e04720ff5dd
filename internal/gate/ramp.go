package gate

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"strings"
	"time"
)

// Turn returns when site may take version of product in a ramp of percent
// sites per hour that started at since: the sites are ranked by a stable hash
// of (site, product, version), and the site of rank r (from 0) gets its turn
// at since + floor(r / ceil(N·percent/100)) hours, N being the number of
// sites. Every site computes the same ranking without a coordinator, and a
// new version reshuffles it so that no site is always first. site is ranked
// even when sites does not list it; percent <= 0 or >= 100 means no ramp.
func Turn(site, product, version string, sites []string, percent int, since time.Time) time.Time {
	if percent <= 0 || percent >= 100 {
		return since
	}
	all := slices.Clone(sites)
	if !slices.Contains(all, site) {
		all = append(all, site)
	}
	slices.Sort(all)
	all = slices.Compact(all)
	key := func(s string) uint64 { return rampHash(s, product, version) }
	slices.SortFunc(all, func(a, b string) int {
		if ka, kb := key(a), key(b); ka != kb {
			if ka < kb {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	rank := slices.Index(all, site)
	perHour := (len(all)*percent + 99) / 100
	return since.Add(time.Duration(rank/perHour) * time.Hour)
}

// rampHash is the stable hash of a site's place in the ramp of a version.
func rampHash(site, product, version string) uint64 {
	sum := sha256.Sum256([]byte(site + "\x00" + product + "\x00" + version))
	return binary.BigEndian.Uint64(sum[:8])
}
