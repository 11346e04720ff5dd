package promote

import (
	"time"

	"go.yaml.in/yaml/v3"
)

// Landing is when a channel's current version was put on it.
type Landing struct {
	// Version is the channel's version at the head.
	Version string
	// At is the commit time of the change that put Version on the channel,
	// as far back as the history reaches.
	At time.Time
}

// Revision is one version of a channels file: its content and the commit
// time of the change that gave it that content.
type Revision struct {
	Time time.Time
	Data []byte
}

// Landed returns, for each channel of the newest revision of a channels
// file, when its version landed: the commit time of the oldest revision in
// the unbroken run of revisions, newest first, that give the channel that
// version. history is newest first; unreadable revisions end a run (a
// version is never dated earlier than a revision that cannot vouch for it).
func Landed(history []Revision) map[string]Landing {
	if len(history) == 0 {
		return nil
	}
	head := channelsOf(history[0].Data)
	out := make(map[string]Landing, len(head))
	for channel, version := range head {
		at := history[0].Time
		for _, rev := range history[1:] {
			if channelsOf(rev.Data)[channel] != version {
				break
			}
			at = rev.Time
		}
		out[channel] = Landing{Version: version, At: at}
	}
	return out
}

// channelsOf reads the channel → version map of a channels file leniently:
// an old revision that no longer decodes strictly still tells its versions.
func channelsOf(data []byte) map[string]string {
	var doc struct {
		Spec map[string]string `yaml:"spec"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil
	}
	return doc.Spec
}
