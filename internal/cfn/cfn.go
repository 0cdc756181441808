// Package cfn reads the SAM template (template.yaml) as a YAML node tree, the
// one way the local gateway and the tests read it. CloudFormation's short
// intrinsic tags (!Ref, !Sub, !GetAtt, ...) need no YAML support that way:
// Scalar treats a tagged value as no plain value, Ref reads both forms of a
// reference, and Value gives the tree as maps and lists with every short form
// written long ({"Ref": X}, {"Fn::Sub": ...}).
package cfn

import (
	"errors"
	"fmt"
	"iter"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// ReadFile reads and parses the template at path.
func ReadFile(path string) (*yaml.Node, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	root, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return root, nil
}

// Parse returns a template's top-level mapping.
func Parse(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	root := Resolve(&doc)
	if root == nil || root.Kind != yaml.MappingNode {
		return nil, errors.New("parse template: not a YAML mapping")
	}
	return root, nil
}

// Resolve follows document and alias nodes to the node they stand for.
func Resolve(n *yaml.Node) *yaml.Node {
	for n != nil {
		switch n.Kind {
		case yaml.DocumentNode:
			if len(n.Content) == 0 {
				return nil
			}
			n = n.Content[0]
		case yaml.AliasNode:
			n = n.Alias
		default:
			return n
		}
	}
	return nil
}

// Get returns the value under key in a mapping node, or nil.
func Get(n *yaml.Node, key string) *yaml.Node {
	for k, v := range Pairs(n) {
		if k == key {
			return v
		}
	}
	return nil
}

// Pairs yields a mapping node's keys and values in order; nothing for a node
// that is not a mapping.
func Pairs(n *yaml.Node) iter.Seq2[string, *yaml.Node] {
	return func(yield func(string, *yaml.Node) bool) {
		n := Resolve(n)
		if n == nil || n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if !yield(Resolve(n.Content[i]).Value, Resolve(n.Content[i+1])) {
				return
			}
		}
	}
}

// Resources yields the template's resources of type typ, by logical ID, in
// template order.
func Resources(root *yaml.Node, typ string) iter.Seq2[string, *yaml.Node] {
	return func(yield func(string, *yaml.Node) bool) {
		for id, res := range Pairs(Get(root, "Resources")) {
			if t, _ := Scalar(Get(res, "Type")); t == typ && !yield(id, res) {
				return
			}
		}
	}
}

// Scalar returns a scalar's value unless it is null or carries a
// CloudFormation intrinsic tag such as !Ref or !Sub.
func Scalar(n *yaml.Node) (string, bool) {
	n = Resolve(n)
	if _, tagged := intrinsic(n); n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" || tagged {
		return "", false
	}
	return n.Value, true
}

// Strings reads a sequence of plain strings (or a single one), leaving out
// what is not one.
func Strings(n *yaml.Node) []string {
	n = Resolve(n)
	if v, ok := Scalar(n); ok {
		return []string{v}
	}
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	var out []string
	for _, c := range n.Content {
		if v, ok := Scalar(c); ok {
			out = append(out, v)
		}
	}
	return out
}

// Ref reads `!Ref X` or `{Ref: X}`.
func Ref(n *yaml.Node) (string, bool) {
	n = Resolve(n)
	if n == nil {
		return "", false
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!Ref" {
		return n.Value, n.Value != ""
	}
	if ref, ok := Scalar(Get(n, "Ref")); ok && ref != "" {
		return ref, true
	}
	return "", false
}

// Value turns a node into maps, lists and strings, with CloudFormation's short
// forms as their long ones: `!Ref X` is {"Ref": "X"}, `!Condition C` is
// {"Condition": "C"}, and `!Sub s`, `!GetAtt X.Arn`, `!If [...]` and the other
// functions are {"Fn::Sub": "s"} and so on.
func Value(n *yaml.Node) any {
	n = Resolve(n)
	if n == nil {
		return nil
	}
	var v any
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for k, c := range Pairs(n) {
			m[k] = Value(c)
		}
		v = m
	case yaml.SequenceNode:
		l := []any{}
		for _, c := range n.Content {
			l = append(l, Value(c))
		}
		v = l
	default:
		v = n.Value
	}
	tag, tagged := intrinsic(n)
	switch {
	case !tagged:
		return v
	case tag == "Ref" || tag == "Condition":
		return map[string]any{tag: v}
	default:
		return map[string]any{"Fn::" + tag: v}
	}
}

// intrinsic returns the function a node's local tag names ("Ref" for !Ref),
// and false when it has none (YAML's own tags are "!!str" and the like).
func intrinsic(n *yaml.Node) (string, bool) {
	if n == nil {
		return "", false
	}
	tag, ok := strings.CutPrefix(n.Tag, "!")
	return tag, ok && !strings.HasPrefix(tag, "!")
}
