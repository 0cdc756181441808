package start

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// extensionName is the extension enableSIGTERM registers, named as
// aws-lambda-go names its own.
const extensionName = "GoLangEnableSIGTERM"

// registerTimeout bounds the registration, so that a runtime API that does
// not answer does not hang the start.
const registerTimeout = 5 * time.Second

// enableSIGTERM runs f when Lambda shuts the container down. Lambda sends
// SIGTERM, and waits about 500 ms before SIGKILL, only to a function with an
// extension registered, so it registers one that subscribes to no event, as
// lambda.WithEnableSIGTERM does. It does so in one plain HTTP/1.1 exchange
// on a connection of its own, the request written out whole, because the
// runtime library's registration sets up a whole HTTP client first, and
// building the request with net/http cost a further third of a millisecond:
// together the largest part of what these functions' cold start added to a
// hello-world one's (see the README's cold start section). It runs while
// the function is built (withSIGTERM). The connection then waits on the
// extension's next
// event, which, subscribed to none, never comes: that tells Lambda the
// extension is ready. api is AWS_LAMBDA_RUNTIME_API; without it (not in
// Lambda) only the handler is installed.
func enableSIGTERM(api string, f func(), log *slog.Logger) error {
	signaled := make(chan os.Signal, 1)
	signal.Notify(signaled, syscall.SIGTERM)
	go func() {
		<-signaled
		f()
	}()
	if api == "" {
		return nil
	}
	conn, err := net.DialTimeout("tcp", api, registerTimeout)
	if err != nil {
		return fmt.Errorf("register the SIGTERM extension: %w", err)
	}
	id, r, err := register(conn, api)
	if err != nil {
		conn.Close()
		return fmt.Errorf("register the SIGTERM extension: %w", err)
	}
	go func() {
		defer conn.Close()
		err := waitForEvents(conn, r, api, id)
		log.Warn("the SIGTERM extension stopped waiting for events", "error", err.Error())
	}()
	return nil
}

// register registers the extension and returns its identifier, and the
// connection's reader.
func register(conn net.Conn, api string) (string, *bufio.Reader, error) {
	if err := conn.SetDeadline(time.Now().Add(registerTimeout)); err != nil {
		return "", nil, err
	}
	// The body aws-lambda-go sends: no event.
	const body = `{"events":null}`
	req := "POST /2020-01-01/extension/register HTTP/1.1\r\nHost: " + api + "\r\nLambda-Extension-Name: " + extensionName +
		"\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	if _, err := io.WriteString(conn, req); err != nil {
		return "", nil, err
	}
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return "", nil, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return "", nil, err
	}
	id := resp.Header.Get("Lambda-Extension-Identifier")
	if resp.StatusCode != http.StatusOK || id == "" {
		return "", nil, fmt.Errorf("status %d, identifier %q", resp.StatusCode, id)
	}
	return id, r, conn.SetDeadline(time.Time{})
}

// waitForEvents asks for the extension's next event on the same connection
// and returns, always with an error, when an answer comes or the connection
// ends, which for an extension subscribed to no event is never, in Lambda.
func waitForEvents(conn net.Conn, r *bufio.Reader, api, id string) error {
	req := "GET /2020-01-01/extension/event/next HTTP/1.1\r\nHost: " + api + "\r\nLambda-Extension-Identifier: " + id + "\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return err
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return fmt.Errorf("an event came: status %d", resp.StatusCode)
}
