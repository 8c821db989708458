//go:build !wasm

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// The Kafka tests run the node binary as a plain Kafka broker: no browser
// and no wasm, so they run in every `go test` (not only with STREAMLAB_E2E=1).

// StartKafkaNode starts bin as a Kafka broker keeping its files in dataDir,
// with a static dir without app.wasm: these tests need no web app.
func StartKafkaNode(t testing.TB, bin, dataDir string, args ...string) *Node {
	t.Helper()
	return launch(t, bin, "", t.TempDir(), dataDir, args)
}

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
