package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"
)

// propagation creates one key, warms the authorizer with it, then n times
// disables or enables it and measures the time from the change's response to
// the first /demo answer that follows it. A disabled key's secret still
// matches its cached copy, so only the change feed can tell the authorizer.
// The changes come at random points of the feed's one-second cycle.
func propagation(c config, n int) error {
	var k struct {
		Key    struct{ ID string } `json:"key"`
		Secret string              `json:"secret"`
	}
	if err := c.call("POST", "/v1/keys", `{"name":"propagation","environment":"test","scopes":["payments:read"]}`, 201, &k); err != nil {
		return err
	}
	demo := func() (int, error) {
		req, _ := http.NewRequest("GET", c.base+"/demo/charges", nil)
		req.Header.Set("Authorization", "Bearer "+k.Secret)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if s, err := demo(); err != nil || s != 200 {
		return fmt.Errorf("warming: %d %v", s, err)
	}
	const bound = 2 * time.Second
	var took []time.Duration
	for i := range n {
		// Changes land at random points of the authorizer's one-second
		// feed cycle, as they would in use.
		time.Sleep(time.Duration(rand.Int64N(int64(time.Second))))
		status, want := "disabled", 403
		if i%2 == 1 {
			status, want = "active", 200
		}
		var out struct{ Status string }
		if err := c.call("PATCH", "/v1/keys/"+k.Key.ID, fmt.Sprintf(`{"status":%q}`, status), 200, &out); err != nil {
			return err
		}
		start := time.Now()
		for {
			s, err := demo()
			if err != nil {
				return err
			}
			if s == want {
				took = append(took, time.Since(start))
				break
			}
			if time.Since(start) > 2*bound {
				return fmt.Errorf("change %d (%s) not seen after %v", i, status, time.Since(start))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	slices.Sort(took)
	late := 0
	for _, d := range took {
		if d > bound {
			late++
		}
	}
	fmt.Printf("change to effect at /demo over %d changes: p50 %s, p99 %s, max %s; over %s: %d\n",
		len(took), pct(took, 0.50), pct(took, 0.99), took[len(took)-1].Round(time.Millisecond), bound, late)
	if late > 0 {
		return fmt.Errorf("%d changes took longer than %s", late, bound)
	}
	return nil
}
