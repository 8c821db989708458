//go:build !wasm

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// kcatPath finds Debian's kcat: skipped if missing, unless STREAMLAB_E2E=1
// (`make test-e2e`, CI), where a missing kcat is a failure.
func kcatPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/kcat", "kcat"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	msg := "kcat not found: install Debian's kcat (apt-get install kcat; .ci/run does)"
	if os.Getenv("STREAMLAB_E2E") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// kcat runs kcat with stdin and returns its stdout; it fails the test on a
// non-zero exit or after 30s (the process is killed by pid).
func kcat(t *testing.T, bin string, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// testKafkaKcat: librdkafka through Debian's kcat reads the cluster metadata
// (-L), produces keyed records with the Java-compatible partitioner
// (murmur2_random) to a topic created with kadm and to one it creates by
// asking for metadata (auto.create.topics.enable), and reads them back.
func testKafkaKcat(t *testing.T, bin string) {
	kc := kcatPath(t)
	node := StartKafkaNode(t, bin, t.TempDir())
	const topic, partitions, n = "kcat", 3, 300
	createTopic(t, node.Addr, topic, partitions)

	md := kcat(t, kc, "", "-b", node.Addr, "-L")
	for _, want := range []string{"broker 1 at " + node.Addr, `topic "kcat" with 3 partitions`} {
		if !strings.Contains(md, want) {
			t.Errorf("kcat -L: no %q in\n%s", want, md)
		}
	}

	sent := records("kcat", n)
	var in strings.Builder
	for _, r := range sent {
		fmt.Fprintf(&in, "%s:%s\n", r.Key, r.Value)
	}
	kcat(t, kc, in.String(), "-b", node.Addr, "-P", "-t", topic, "-K:", "-X", "partitioner=murmur2_random")

	// Auto-creation: kcat cannot create topics; the broker creates one
	// with num.partitions=1 when a producer asks for its metadata.
	kcat(t, kc, "k:auto\n", "-b", node.Addr, "-P", "-t", "kcat-auto", "-K:")
	if md := kcat(t, kc, "", "-b", node.Addr, "-L", "-t", "kcat-auto"); !strings.Contains(md, `topic "kcat-auto" with 1 partitions`) {
		t.Errorf("auto-created topic: %s", md)
	}

	out := kcat(t, kc, "", "-b", node.Addr, "-C", "-t", topic, "-e", "-f", "%p %o %k %s\n")
	var got []consumed
	lines := bufio.NewScanner(strings.NewReader(out))
	for lines.Scan() {
		f := strings.SplitN(lines.Text(), " ", 4)
		if len(f) != 4 {
			t.Fatalf("kcat -C line %q", lines.Text())
		}
		p, err1 := strconv.ParseInt(f[0], 10, 32)
		o, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("kcat -C line %q", lines.Text())
		}
		got = append(got, consumed{Partition: int32(p), Offset: o, Key: f[2], Value: f[3]})
	}
	checkLog(t, partitions, sent, got)
}
