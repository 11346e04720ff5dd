package daemon

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/testenv"
)

func TestDaemonRecoversFromAPIServerRestart(t *testing.T) {
	c := testenv.NewCluster(t, testenv.ClusterOptions{})
	cl := newClient(t, c)
	const site = "dm-apirestart"
	src := &dirSource{dir: t.TempDir()}
	writeFleet(t, src.dir, site, "git_wins")
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	d := New(cl, dyn, cl.RESTMapper(), src, Config{Site: site, Namespace: "syncd-system", Interval: 500 * time.Millisecond,
		Log: hclog.New(&hclog.LoggerOptions{Output: testLog{t}})})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	eventually(t, 30*time.Second, "first sync", func() bool { l, _ := level(t, cl, site); return l == "info" })

	if err := c.RestartAPIServer(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	// The watches come back: an out-of-band edit is still undone.
	eventually(t, 30*time.Second, "API server back", func() bool {
		var cm corev1.ConfigMap
		return cl.Get(context.Background(), client.ObjectKey{Namespace: site, Name: "web-config"}, &cm) == nil
	})
	var cm corev1.ConfigMap
	if err := cl.Get(context.Background(), client.ObjectKey{Namespace: site, Name: "web-config"}, &cm); err != nil {
		t.Fatal(err)
	}
	cm.Data["level"] = "debug"
	if err := cl.Update(context.Background(), &cm, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "edit undone after the restart", func() bool { l, _ := level(t, cl, site); return l == "info" })
}
