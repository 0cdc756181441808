package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// webhookLatency registers a receiver on 127.0.0.1, creates n keys one after
// another, and measures, for each key.created event, the time from the
// create's response to the delivery's arrival.
func webhookLatency(c config, n int) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	var mu sync.Mutex
	created := map[string]time.Time{}
	arrived := map[string]time.Time{}
	dups := 0
	all := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		body, _ := io.ReadAll(r.Body)
		var p struct {
			Type string `json:"type"`
			Data struct {
				Key struct{ ID string } `json:"key"`
			} `json:"data"`
		}
		json.Unmarshal(body, &p)
		mu.Lock()
		defer mu.Unlock()
		if _, seen := arrived[p.Data.Key.ID]; seen {
			dups++
		} else if p.Type == "key.created" {
			arrived[p.Data.Key.ID] = at
			if len(arrived) == n {
				close(all)
			}
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()

	var ep struct {
		Endpoint struct{ ID string } `json:"endpoint"`
	}
	body := fmt.Sprintf(`{"url":"http://%s/hooks","event_types":["key.created"],"description":"load"}`, ln.Addr())
	if err := c.call("POST", "/v1/webhooks", body, 201, &ep); err != nil {
		return err
	}
	defer c.call("DELETE", "/v1/webhooks/"+ep.Endpoint.ID, "", 204, nil)

	fmt.Printf("webhooks: %d keys created one at a time, each key.created delivered to a receiver on 127.0.0.1\n", n)
	for i := 0; i < n; i++ {
		var out struct {
			Key struct{ ID string } `json:"key"`
		}
		if err := c.call("POST", "/v1/keys", `{"name":"webhook load","environment":"test"}`, 201, &out); err != nil {
			return err
		}
		mu.Lock()
		created[out.Key.ID] = time.Now()
		mu.Unlock()
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case <-all:
	case <-time.After(60 * time.Second):
	}
	mu.Lock()
	defer mu.Unlock()
	var lat []time.Duration
	for id, t := range created {
		if a, ok := arrived[id]; ok {
			lat = append(lat, a.Sub(t))
		}
	}
	slices.Sort(lat)
	fmt.Printf("  received %d of %d, duplicates %d: change to receipt p50 %v, p99 %v, max %v\n",
		len(lat), n, dups, pct(lat, 0.50).Round(time.Millisecond), pct(lat, 0.99).Round(time.Millisecond), pct(lat, 1).Round(time.Millisecond))
	if len(lat) != n {
		return fmt.Errorf("%d events were not delivered within 60 s", n-len(lat))
	}
	return nil
}
