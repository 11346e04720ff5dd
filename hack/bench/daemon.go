package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/syncd-dev/syncd/internal/testenv"
	"github.com/syncd-dev/syncd/internal/tracing/tracingtest"
)

// benchDaemon runs `syncd run` as a process against the generated site served
// over OpenSSH and measures push -> applied latency, with polling every second
// and with the webhook, and the idle daemon's CPU, API requests and RSS.
func benchDaemon(ctx context.Context, syncd string, n, pushes int, idle time.Duration, modes, profileDir string) error {
	srv, err := testenv.StartGitServer()
	if err != nil {
		return err
	}
	defer srv.Stop()
	work, err := os.MkdirTemp("", "syncd-bench-daemon-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	repo := filepath.Join(work, "fleet")
	if err := generateFleet(repo, n); err != nil {
		return err
	}
	if _, err := srv.CreateRepo("fleet.git", "main"); err != nil {
		return err
	}
	gitEnv := []string{"GIT_SSH_COMMAND=" + srv.GitSSHCommand(srv.DeployKey.PrivatePath)}
	git := func(args ...string) error {
		_, err := testenv.RunGit(repo, gitEnv, args...)
		return err
	}
	for _, args := range [][]string{{"init", "--quiet", "--initial-branch=main"}, {"add", "-A"}, {"commit", "--quiet", "-m", "fleet"}, {"push", "--quiet", srv.URL("fleet.git"), "main"}} {
		if err := git(args...); err != nil {
			return err
		}
	}
	c, err := testenv.StartCluster(ctx, testenv.ClusterOptions{})
	if err != nil {
		return err
	}
	defer c.Stop()
	kube, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return err
	}
	// The API server's own request rate at rest (its loopback clients, the
	// metric scrapes), subtracted from the idle daemon's.
	background, err := requestRate(ctx, kube, min(idle, 20*time.Second))
	if err != nil {
		return err
	}
	recv, stopRecv := tracingtest.Serve()
	defer stopRecv()
	fmt.Printf("\ndaemon: `syncd run` on %d objects, fleet repo over OpenSSH; %d pushes per mode, each changing one ConfigMap\n", 4*n, pushes)
	for _, mode := range []struct {
		name     string
		interval string
		webhook  bool
	}{{"polling every 1s", "1s", false}, {"webhook (poll every 1h)", "1h", true}} {
		if !strings.Contains(modes, map[bool]string{false: "poll", true: "webhook"}[mode.webhook]) {
			continue
		}
		listen := freeListen()
		args := []string{"run", "--site", "bench", "--repo", srv.URL("fleet.git"), "--identity", srv.DeployKey.PrivatePath,
			"--known-hosts", srv.KnownHosts, "--kubeconfig", c.Kubeconfig, "--cache-dir", filepath.Join(work, "cache-"+mode.interval),
			"--listen", listen, "--interval", mode.interval, "--health-timeout", "0s"}
		pprof := freeListen()
		if profileDir != "" {
			args = append(args, "--pprof", pprof)
		}
		cmd := exec.CommandContext(ctx, syncd, args...)
		// Traces to the bench's receiver, for the breakdown of each push.
		cmd.Env = append(os.Environ(), "SYNCD_WEBHOOK_SECRET=bench-secret",
			"OTEL_EXPORTER_OTLP_ENDPOINT="+recv.URL, "OTEL_BSP_SCHEDULE_DELAY=500")
		logFile, err := os.Create(filepath.Join(work, "syncd-"+mode.interval+".log"))
		if err != nil {
			return err
		}
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			return err
		}
		stop := func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait(); logFile.Close() }
		if err := waitReady(listen, 3*time.Minute); err != nil {
			stop()
			return fmt.Errorf("%s: %w (log %s)", mode.name, err, logFile.Name())
		}
		var lat []time.Duration
		var traces []pushTrace
		profiled := make(chan error, 1)
		if profileDir != "" {
			// A CPU profile of the daemon over the pushes (their number
			// times the mean latency seen so far is unknown: 30 s covers
			// the first pushes of either mode).
			go func() {
				profiled <- saveProfile("http://"+pprof+"/debug/pprof/profile?seconds=30", filepath.Join(profileDir, "daemon-"+mode.interval+".pprof"))
			}()
		} else {
			profiled <- nil
		}
		for i := 0; i < pushes; i++ {
			p := productName(i % n)
			value := fmt.Sprintf("%s-%d", mode.interval, i)
			file := filepath.Join(repo, "products", p, "releases", "1.0.0", "objects.yaml")
			data := strings.Replace(release(p, "1.0.0")["objects.yaml"], "LOG_LEVEL: info", "LOG_LEVEL: info, PUSH: \""+value+"\"", 1)
			if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
				stop()
				return err
			}
			if err := git("commit", "--quiet", "-am", "push "+value); err != nil {
				stop()
				return err
			}
			w, err := watchConfigMap(ctx, kube, p+"-config")
			if err != nil {
				stop()
				return err
			}
			if err := git("push", "--quiet", srv.URL("fleet.git"), "main"); err != nil {
				stop()
				return err
			}
			start := time.Now()
			if mode.webhook {
				if err := postWebhook(listen, "bench-secret"); err != nil {
					stop()
					return err
				}
			}
			err = waitValue(w, value, 60*time.Second)
			w.Stop()
			if err != nil {
				stop()
				return fmt.Errorf("%s: push %d: %w; the daemon's log ends:\n%s", mode.name, i, err, logTail(logFile.Name(), 40))
			}
			lat = append(lat, time.Since(start))
			sha, err := testenv.RunGit(repo, gitEnv, "rev-parse", "HEAD")
			if err != nil {
				stop()
				return err
			}
			traces = append(traces, pushTrace{sha: strings.TrimSpace(sha), at: start, took: lat[len(lat)-1], product: p})
		}
		if err := <-profiled; err != nil {
			fmt.Fprintf(os.Stderr, "bench: profiling the daemon: %v\n", err)
		}
		cpu0, _ := procCPU(cmd.Process.Pid)
		perMinute, err := requestRate(ctx, kube, idle)
		if err != nil {
			stop()
			return err
		}
		cpu1, rss := procCPU(cmd.Process.Pid)
		stop()
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		fmt.Printf("  %-24s push -> applied: median %s, p95 %s, max %s; idle: %.2f%% of a core, %.0f API requests per minute (%.0f of the API server's own at rest left out), RSS %d MiB\n", mode.name,
			lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)*95/100].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond),
			100*(cpu1-cpu0).Seconds()/idle.Seconds(), max(perMinute-background, 0), background, rss/1024)
		fmt.Printf("  %-24s where the time went (trace spans): %s\n", "", breakdown(recv.Spans(), traces))
	}
	return nil
}

func freeListen() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:9191"
	}
	defer l.Close()
	return l.Addr().String()
}

func waitReady(listen string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + listen + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("not ready within %s", limit)
}

func postWebhook(listen, secret string) error {
	body := []byte(`{"ref":"refs/heads/main"}`)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	req, _ := http.NewRequest("POST", "http://"+listen+"/hooks/git", bytes.NewReader(body))
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("webhook answered %d", resp.StatusCode)
	}
	return nil
}

func watchConfigMap(ctx context.Context, kube kubernetes.Interface, name string) (watch.Interface, error) {
	return kube.CoreV1().ConfigMaps("bench").Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()})
}

// waitValue waits for the watched ConfigMap to carry PUSH=value.
func waitValue(w watch.Interface, value string, limit time.Duration) error {
	timeout := time.After(limit)
	for {
		select {
		case ev := <-w.ResultChan():
			if cm, ok := ev.Object.(*corev1.ConfigMap); ok && cm.Data["PUSH"] == value {
				return nil
			}
		case <-timeout:
			return fmt.Errorf("value %s not applied within %s", value, limit)
		}
	}
}

// procCPU reads a process's CPU time and resident set (KiB) from /proc.
func procCPU(pid int) (time.Duration, int64) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	cpu := time.Duration(utime+stime) * time.Second / 100 // USER_HZ
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	var rss int64
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			rss, _ = strconv.ParseInt(strings.Fields(v)[0], 10, 64)
		}
	}
	return cpu, rss
}

// logTail returns the last n lines of the file at path.
func logTail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return tail(string(data), n)
}

// saveProfile writes what url serves (a pprof profile) to path.
func saveProfile(url, path string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// requestRate counts the API server's requests (apiserver_request_total)
// over d and returns them per minute.
func requestRate(ctx context.Context, kube kubernetes.Interface, d time.Duration) (float64, error) {
	r0, err := apiRequests(ctx, kube)
	if err != nil {
		return 0, err
	}
	time.Sleep(d)
	r1, err := apiRequests(ctx, kube)
	if err != nil {
		return 0, err
	}
	return (r1 - r0) / d.Minutes(), nil
}
