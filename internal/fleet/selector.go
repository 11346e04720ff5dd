package fleet

import "slices"

// Matches reports whether site is selected (see SiteSelector).
func (s SiteSelector) Matches(site *Site) bool {
	switch {
	case slices.Contains(s.Exclude, site.Name):
		return false
	case slices.Contains(s.Include, site.Name):
		return true
	}
	for k, v := range s.WithLabels {
		if got, ok := site.Labels[k]; !ok || got != v {
			return false
		}
	}
	for k, v := range s.WithoutLabels {
		if got, ok := site.Labels[k]; ok && (v == "" || got == v) {
			return false
		}
	}
	return true
}
