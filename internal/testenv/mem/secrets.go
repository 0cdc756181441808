package mem

import (
	"context"
	"slices"
	"sync"

	"github.com/paykeys/paykeys/internal/key"
)

// Secrets is the secret store in memory: each name's versions, and which
// one is current. Calls lists the methods called, in order; Fail makes a
// method (by name) return an error. Its fields may be read and set by a
// test between calls.
type Secrets struct {
	mu       sync.Mutex
	Versions map[string]map[string]string // name → version ID → value
	Current  map[string]string            // name → version ID
	Fail     map[string]error
	Calls    []string
}

// NewSecrets returns an empty secret store.
func NewSecrets() *Secrets {
	return &Secrets{Versions: map[string]map[string]string{}, Current: map[string]string{}, Fail: map[string]error{}}
}

func (m *Secrets) call(method string) error {
	m.Calls = append(m.Calls, method)
	return m.Fail[method]
}

func (m *Secrets) put(name, version, value string) {
	if m.Versions[name] == nil {
		m.Versions[name] = map[string]string{}
	}
	m.Versions[name][version] = value
}

func (m *Secrets) Create(_ context.Context, name, version, value string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("Create"); err != nil {
		return err
	}
	m.put(name, version, value)
	m.Current[name] = version
	return nil
}

func (m *Secrets) Stage(_ context.Context, name, version, value string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("Stage"); err != nil {
		return err
	}
	m.put(name, version, value)
	return nil
}

func (m *Secrets) Promote(_ context.Context, name, current, _ string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("Promote"); err != nil {
		return err
	}
	m.Current[name] = current
	return nil
}

func (m *Secrets) Get(_ context.Context, name, version string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("Get"); err != nil {
		return "", err
	}
	v, ok := m.Versions[name][version]
	if !ok {
		return "", key.NotFound("secret", name)
	}
	return v, nil
}

func (m *Secrets) Delete(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("Delete"); err != nil {
		return err
	}
	delete(m.Versions, name)
	delete(m.Current, name)
	return nil
}

// Put stores value as the current version of name, as a test's setup.
func (m *Secrets) Put(name, version, value string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.put(name, version, value)
	m.Current[name] = version
}

// Count returns how many times method was called.
func (m *Secrets) Count(method string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(slices.DeleteFunc(slices.Clone(m.Calls), func(c string) bool { return c != method }))
}

// Has reports whether the store holds value as version of name.
func (m *Secrets) Has(name, version, value string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return value != "" && m.Versions[name][version] == value
}

// AnyURL is a URL checker that lets every URL through; the URL guard has
// tests of its own.
type AnyURL struct{}

func (AnyURL) CheckURL(context.Context, string) error { return nil }
