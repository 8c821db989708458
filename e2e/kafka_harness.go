//go:build !wasm

package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The Kafka tests run the node binary as a plain Kafka broker: no browser
// and no wasm, so they run in every `go test` (not only with STREAMLAB_E2E=1).

// KafkaNode is a running node binary with its Kafka listener.
type KafkaNode struct {
	Addr    string // host:port of the Kafka listener, as the node prints it
	URL     string // the web app, http://127.0.0.1:PORT
	DataDir string

	cmd      *exec.Cmd
	out      *syncBuffer
	exited   chan struct{}
	waitErr  error
	stopOnce sync.Once
	stopErr  error
}

// StartKafkaNode starts bin with "-kafka 127.0.0.1:0 -http 127.0.0.1:0 -data
// dataDir" (and a static dir without app.wasm: the app is not needed) and
// waits until it prints both addresses. The node is stopped when the test
// ends, by SIGTERM and then SIGKILL (by pid); its output is logged if the
// test failed.
func StartKafkaNode(t testing.TB, bin, dataDir string, args ...string) *KafkaNode {
	t.Helper()
	static := t.TempDir()
	cmd := exec.Command(bin, append([]string{"-kafka", "127.0.0.1:0", "-http", "127.0.0.1:0",
		"-data", dataDir, "-static", static}, args...)...)
	setDeathSignal(cmd)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	n := &KafkaNode{DataDir: dataDir, cmd: cmd, out: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = n.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Stop(); err != nil {
			t.Errorf("stop node: %v", err)
		}
		if t.Failed() {
			t.Logf("node output:\n%s", n.out.String())
		}
	})

	type addrs struct{ kafka, url string }
	ready := make(chan addrs, 1)
	go func() {
		lines := bufio.NewScanner(stdout)
		var a addrs
		sent := false
		for lines.Scan() {
			line := lines.Text()
			n.out.Write([]byte(line + "\n"))
			if v, ok := strings.CutPrefix(line, "Streamlab Kafka listener on "); ok {
				a.kafka = strings.Fields(v)[0]
			}
			if v, ok := strings.CutPrefix(line, "Streamlab serving "); ok {
				a.url = strings.Fields(v)[0]
			}
			if a.kafka != "" && a.url != "" && !sent {
				ready <- a
				sent = true
			}
		}
		io.Copy(io.Discard, stdout)
		n.waitErr = cmd.Wait()
		close(n.exited)
	}()

	select {
	case a := <-ready:
		n.Addr, n.URL = a.kafka, a.url
		return n
	case <-n.exited:
		t.Fatalf("node exited before serving: %v\n%s", n.waitErr, n.out.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("node printed no Kafka address within 30s:\n%s", n.out.String())
	}
	return nil
}

// Kill kills the node with SIGKILL (kill -9, by pid), as a crash would, and
// waits until it is gone.
func (n *KafkaNode) Kill(t testing.TB) {
	t.Helper()
	n.stopOnce.Do(func() {
		if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Errorf("kill -9 %d: %v", n.cmd.Process.Pid, err)
		}
		<-n.exited
	})
}

// Stop sends SIGTERM (by pid) and waits for a clean exit, killing the node
// after 10s. It returns an error if the node did not exit cleanly. It does
// nothing after Kill, and is safe to call more than once.
func (n *KafkaNode) Stop() error {
	n.stopOnce.Do(func() {
		select {
		case <-n.exited:
			n.stopErr = fmt.Errorf("node exited before it was stopped: %v", n.waitErr)
			return
		default:
		}
		n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.exited:
			n.stopErr = n.waitErr
			if n.stopErr == nil && !strings.Contains(n.out.String(), "Streamlab stopped") {
				n.stopErr = errors.New("node exited without its stop message")
			}
		case <-time.After(10 * time.Second):
			n.cmd.Process.Kill()
			<-n.exited
			n.stopErr = errors.New("node ignored SIGTERM for 10s; killed")
		}
	})
	return n.stopErr
}

// Output returns what the node printed so far.
func (n *KafkaNode) Output() string { return n.out.String() }

// kafkaBinary builds the node once per TestKafka run (unless STREAMLAB_BIN
// names one) into a directory of t, the parent test.
func kafkaBinary(t *testing.T) string {
	t.Helper()
	if os.Getenv("STREAMLAB_BIN") != "" {
		return NodeBinary(t)
	}
	start := time.Now()
	bin := filepath.Join(t.TempDir(), "streamlab")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = RepoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built the node in %v", time.Since(start).Round(time.Millisecond))
	return bin
}
