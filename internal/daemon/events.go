package daemon

import (
	"context"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The daemon records its Events through client-go's event recorder: the
// broadcaster's correlator counts repeats of one Event on one object instead
// of creating new ones, aggregates similar Events, and rate-limits each
// object's Events, so that a git_wins fight with another controller cannot
// flood the API server.

// eventReporter is the reporting controller of syncd's Events.
const eventReporter = "syncd.dev/syncd"

// eventRelay passes Events to the recorder of the running daemon; Events
// recorded while none runs are dropped (nothing is reconciled then).
type eventRelay struct {
	rec atomic.Pointer[record.EventRecorder]
}

// Event implements reconcile.EventRecorder.
func (r *eventRelay) Event(obj runtime.Object, eventtype, reason, message string) {
	if rec := r.rec.Load(); rec != nil {
		(*rec).Event(obj, eventtype, reason, message)
	}
}

// startEvents starts recording Events through c until the returned stop is
// called. The recording outlives ctx until then, so that Events of work
// finishing after ctx ended are still written; stop gives the writes queued
// eventFlush to finish.
func (d *Daemon) startEvents(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	b := record.NewBroadcaster(record.WithContext(ctx))
	b.StartRecordingToSink(&eventSink{ctx: ctx, c: d.client, site: d.cfg.Site})
	var rec record.EventRecorder = b.NewRecorder(d.client.Scheme(), corev1.EventSource{Component: "syncd", Host: d.cfg.Site})
	d.events.rec.Store(&rec)
	return func() {
		d.events.rec.Store(nil)
		b.Shutdown()
		time.AfterFunc(eventFlush, cancel)
	}
}

// eventFlush bounds how long Events queued when the daemon stops may take to
// be written.
const eventFlush = 5 * time.Second

// eventSink writes the broadcaster's Events with the controller-runtime
// client, as reported by syncd.dev/syncd for the site.
type eventSink struct {
	ctx  context.Context
	c    client.Client
	site string
}

func (s *eventSink) stamp(e *corev1.Event) *corev1.Event {
	e = e.DeepCopy()
	e.ReportingController, e.ReportingInstance = eventReporter, s.site
	return e
}

// Create implements record.EventSink.
func (s *eventSink) Create(e *corev1.Event) (*corev1.Event, error) {
	e = s.stamp(e)
	return e, s.c.Create(s.ctx, e)
}

// Update implements record.EventSink.
func (s *eventSink) Update(e *corev1.Event) (*corev1.Event, error) {
	e = s.stamp(e)
	return e, s.c.Update(s.ctx, e)
}

// Patch implements record.EventSink.
func (s *eventSink) Patch(old *corev1.Event, data []byte) (*corev1.Event, error) {
	e := old.DeepCopy()
	return e, s.c.Patch(s.ctx, e, client.RawPatch(types.StrategicMergePatchType, data))
}
