// The S3-compatible object store of the test world: gofakes3's in-memory backend behind a
// listener on a free loopback port, with the buckets asked for. Built by scripts/build-tools.sh
// (target objectstore); started by test/support/object-store.ts.
//
//	vw-object-store -addr 127.0.0.1:0 -bucket vworkspace-backups
//
// It prints "listening on http://ADDR" once it accepts connections. A test switches faults at
// run time with POST /-/mode?to=ok|deny-writes|deny-all (not a bucket name: S3 forbids '-' first):
// deny-writes answers 503 to every write (a store that fails mid-backup), deny-all answers 403
// AccessDenied to everything (a location Velero's validation finds Unavailable).
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

type buckets []string

func (b *buckets) String() string     { return strings.Join(*b, ",") }
func (b *buckets) Set(v string) error { *b = append(*b, v); return nil }

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	var names buckets
	flag.Var(&names, "bucket", "a bucket to create at start (repeatable)")
	flag.Parse()

	backend := s3mem.New()
	for _, name := range names {
		if err := backend.CreateBucket(name); err != nil {
			log.Fatalf("creating bucket %s: %v", name, err)
		}
	}
	s3 := gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server()

	var mode atomic.Value
	mode.Store("ok")
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/-/mode" {
			to := r.URL.Query().Get("to")
			if r.Method == http.MethodPost && (to == "ok" || to == "deny-writes" || to == "deny-all") {
				mode.Store(to)
			}
			fmt.Fprintln(w, mode.Load())
			return
		}
		switch mode.Load() {
		case "deny-all":
			s3Error(w, http.StatusForbidden, "AccessDenied", "Access Denied")
			return
		case "deny-writes":
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				s3Error(w, http.StatusServiceUnavailable, "ServiceUnavailable", "writes are switched off")
				return
			}
		}
		s3.ServeHTTP(w, r)
	})

	listener, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on http://%s\n", listener.Addr())
	log.Fatal(http.Serve(listener, handler))
}

func s3Error(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, message)
}
