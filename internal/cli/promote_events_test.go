package cli

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/promote"
	"github.com/syncd-dev/syncd/internal/testenv"
)

// TestPromotionEvents records the Event of each decision the promoter acts
// on against a real API server, and none for decisions that pushed nothing.
func TestPromotionEvents(t *testing.T) {
	c := testenv.NewCluster(t, testenv.ClusterOptions{})
	ctx := context.Background()
	if err := c.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "syncd-system"}}); err != nil {
		t.Fatal(err)
	}
	ev := &promotionEvents{client: c.Client, namespace: "syncd-system", site: "eu-1", log: hclog.NewNullLogger()}
	promoteDecision := promote.Decision{Product: "web", From: "staging", To: "prod", Version: "1.2.0", Decision: promote.Promote, Reason: "1 of 1 canary sites healthy"}
	pr := promoteDecision
	pr.PullRequest = true
	recall := promote.Decision{Product: "web", From: "staging", To: "prod", Version: "1.3.0", Decision: promote.Recall, Reason: "1 site ERROR longer than 30s",
		Rollback: map[string]string{"staging": "1.2.0", "dev": "1.2.0"}}
	ev.record(promoteDecision, "0123456789abcdef", nil)
	ev.record(pr, "fedcba9876543210", nil)
	ev.record(recall, "aaaabbbbccccdddd", nil)
	ev.record(promoteDecision, "", nil) // nothing pushed: no Event
	ev.record(promoteDecision, "", errors.New("push rejected"))

	var list corev1.EventList
	if err := c.Client.List(ctx, &list, client.InNamespace("syncd-system")); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range list.Items {
		if e.InvolvedObject.Kind != "ConfigMap" || e.InvolvedObject.Name != "syncd-status-eu-1" || e.InvolvedObject.Namespace != "syncd-system" {
			t.Errorf("event %s involves %+v, want the status ConfigMap of eu-1", e.Name, e.InvolvedObject)
		}
		got[e.Reason] = e.Type + ": " + e.Message
	}
	want := map[string]string{
		"Promoted":          "Normal: promoted web 1.2.0: staging -> prod (commit 0123456789ab): 1 of 1 canary sites healthy",
		"PromotionProposed": "Normal: proposed web 1.2.0: staging -> prod on branch " + promote.PullRequestBranch(pr) + " (commit fedcba987654): 1 of 1 canary sites healthy",
		"Recalled":          "Warning: recalled web 1.3.0 (commit aaaabbbbcccc): dev -> 1.2.0, staging -> 1.2.0; 1 site ERROR longer than 30s",
		"PromotionFailed":   "Warning: could not promote web 1.2.0: staging -> prod: push rejected",
	}
	if len(list.Items) != len(want) {
		t.Errorf("%d events, want %d: %v", len(list.Items), len(want), got)
	}
	for reason, w := range want {
		if got[reason] != w {
			t.Errorf("%s event: %q\nwant %q", reason, got[reason], w)
		}
	}
	if strings.Contains(got["Recalled"], "left as it is") {
		t.Errorf("recall event: %q", got["Recalled"])
	}
}
