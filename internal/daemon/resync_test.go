package daemon

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"k8s.io/client-go/dynamic"

	"github.com/syncd-dev/syncd/internal/testenv"
)

// countingLog counts the log lines that contain a word.
type countingLog struct {
	word string
	n    atomic.Int64
}

func (l *countingLog) Write(p []byte) (int, error) {
	if strings.Contains(string(p), l.word) {
		l.n.Add(1)
	}
	return len(p), nil
}

// Polls that find nothing new must not postpone the resync: with a poll
// every 100ms and a resync every second, full reconciles keep coming
// without any new commit (before, each quiet poll reset the resync clock,
// so the safety-net resync never ran).
func TestResyncRunsWhilePollsFindNothing(t *testing.T) {
	c := testenv.NewCluster(t, testenv.ClusterOptions{})
	cl := newClient(t, c)
	const site = "dm-resync"
	src := &dirSource{dir: t.TempDir()}
	writeFleet(t, src.dir, site, "git_wins")
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	full := &countingLog{word: "reconciled:"}
	d := New(cl, dyn, cl.RESTMapper(), src, Config{
		Site: site, Namespace: "syncd-system", Interval: 100 * time.Millisecond, Resync: time.Second,
		Log: hclog.New(&hclog.LoggerOptions{Output: full}),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	eventually(t, 60*time.Second, "three full reconciles of one revision", func() bool { return full.n.Load() >= 3 })
}
