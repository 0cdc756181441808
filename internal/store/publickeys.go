package store

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/paykeys/paykeys/internal/key"
)

// A key's registered public keys live in its own item, as a list of maps:
// a public key is not a secret, and keeping it there means every change to
// it is a key write, with its revision, audit record and change-feed entry,
// and the authorizer finds it with the key's one GetItem.
const (
	kPublicKeys = "public_keys"
	pkID        = "id"
	pkAlg       = "alg"
	pkX         = "x"
	pkY         = "y"
	pkCreatedAt = "created_at"
)

// avPublicKeys encodes public keys; nil when there are none.
func avPublicKeys(ps []key.PublicKey) types.AttributeValue {
	if len(ps) == 0 {
		return nil
	}
	l := make([]types.AttributeValue, len(ps))
	for i, p := range ps {
		m := map[string]types.AttributeValue{
			pkID: avS(p.ID), pkAlg: avS(string(p.Alg)), pkX: avB(p.X), pkCreatedAt: avTime(p.CreatedAt),
		}
		if len(p.Y) > 0 {
			m[pkY] = avB(p.Y)
		}
		l[i] = &types.AttributeValueMemberM{Value: m}
	}
	return &types.AttributeValueMemberL{Value: l}
}

// publicKeys decodes the public keys of a key item.
func (d *decoder) publicKeys(name string) []key.PublicKey {
	switch v := d.item[name].(type) {
	case nil:
		return nil
	case *types.AttributeValueMemberL:
		out := make([]key.PublicKey, 0, len(v.Value))
		for _, e := range v.Value {
			m, ok := e.(*types.AttributeValueMemberM)
			if !ok {
				d.fail(name, "a list of maps")
				return nil
			}
			sub := &decoder{item: m.Value}
			p := key.PublicKey{
				ID: sub.s(pkID, true), Alg: key.PublicKeyAlg(sub.s(pkAlg, true)),
				X: sub.b(pkX, true), Y: sub.b(pkY, false), CreatedAt: sub.time(pkCreatedAt, true),
			}
			if sub.err != nil {
				d.fail(name, "public keys: "+sub.err.Error())
				return nil
			}
			out = append(out, p)
		}
		return out
	}
	d.fail(name, "a list of maps")
	return nil
}
