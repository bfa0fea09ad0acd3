// A protected API on Go's net/http ServeMux, as a user would write it: the admin handlers need
// admin:manage, everything else is the broad handler. Every handler that runs prints one line
// (HIT <handler> <quoted request target>) so the test knows what the upstream really ran.
// Websocket-free, standard library only. Listens on 127.0.0.1 and prints LISTEN <port>.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
)

var out sync.Mutex

func hit(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		out.Lock()
		fmt.Fprintf(os.Stdout, "HIT %s %s\n", name, strconv.Quote(r.RequestURI))
		out.Unlock()
		w.Header().Set("X-Handler", name)
		fmt.Fprintf(w, "handler=%s\n", name)
	}
}

func main() {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/admin/users", hit("admin"))
	mux.HandleFunc("/v1/admin/users/{id}", hit("admin"))
	mux.HandleFunc("/v1/admin/", hit("admin"))
	mux.HandleFunc("/v1/admin", hit("admin"))
	mux.HandleFunc("/", hit("broad"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("LISTEN %d\n", ln.Addr().(*net.TCPAddr).Port)
	if err := http.Serve(ln, mux); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
