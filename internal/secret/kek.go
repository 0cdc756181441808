package secret

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// KEKLen is the length of a key-encryption key: AES-256.
const KEKLen = 32

// minKEKValueLen is the shortest KEK secret value accepted: a template's
// generated 64-character password, or the base64 of 32 random bytes that a
// rotation writes (44), both carry well over 256 bits.
const minKEKValueLen = 40

// ErrRewrapPending: a KEK rotation was refused because ciphertexts still use
// the previous KEK version; the lifecycle job re-wraps them and retires that
// version, after which a rotation may start.
var ErrRewrapPending = errors.New("the previous key-encryption key is still in use")

// Keyring holds the key-encryption keys (KEKs) of the envelope store: one
// Secrets Manager secret whose versions are the KEKs. Each version's value
// is a random string of at least 40 characters (a rotation writes the
// base64 of 32 random bytes; a template may generate a password), and the
// AES-256 key is its SHA-256. AWSCURRENT marks the KEK that encrypts new
// secrets; AWSPREVIOUS marks the one a rotation replaced, until every
// ciphertext under it has been re-wrapped and it is retired (its labels
// removed). So there are at most two KEKs in use at once.
//
// A KEK version never changes, so each is read from Secrets Manager once per
// container and then kept; which version is current is read on every
// encryption, so a rotation takes effect for new secrets at once.
type Keyring struct {
	api  API
	name string
	// KMSKeyID, when set, is the KMS key the KEK secret is created with;
	// empty keeps Secrets Manager's AWS-managed key.
	KMSKeyID string

	mu    sync.Mutex
	aeads map[string]cipher.AEAD // KEK version ID -> AES-256-GCM
}

// NewKeyring returns the keyring kept in the secret named name.
func NewKeyring(api API, name string) *Keyring {
	return &Keyring{api: api, name: name, aeads: map[string]cipher.AEAD{}}
}

// SecretName is the name of the secret holding the KEKs.
func (k *Keyring) SecretName() string { return k.name }

// Current returns the current KEK's version and cipher. The first writer
// of a deployment creates the secret when it does not exist yet.
func (k *Keyring) Current(ctx context.Context) (string, cipher.AEAD, error) {
	out, err := k.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId: aws.String(k.name), VersionStage: aws.String(StageCurrent),
	})
	if err != nil && errors.Is(kekNotFound(err), ErrNotFound) {
		if err := k.create(ctx); err != nil {
			return "", nil, err
		}
		out, err = k.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
			SecretId: aws.String(k.name), VersionStage: aws.String(StageCurrent),
		})
	}
	if err != nil {
		return "", nil, fmt.Errorf("kek %s: read current: %w", k.name, kekNotFound(err))
	}
	v := aws.ToString(out.VersionId)
	a, err := k.remember(v, aws.ToString(out.SecretString))
	return v, a, err
}

// Version returns the cipher of one KEK version, read once per container.
func (k *Keyring) Version(ctx context.Context, version string) (cipher.AEAD, error) {
	k.mu.Lock()
	a, ok := k.aeads[version]
	k.mu.Unlock()
	if ok {
		return a, nil
	}
	out, err := k.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId: aws.String(k.name), VersionId: aws.String(version),
	})
	if err != nil {
		return nil, fmt.Errorf("kek %s: read version %s: %w", k.name, version, kekNotFound(err))
	}
	return k.remember(version, aws.ToString(out.SecretString))
}

func (k *Keyring) remember(version, value string) (cipher.AEAD, error) {
	if len(value) < minKEKValueLen {
		return nil, fmt.Errorf("kek %s: version %s is shorter than %d characters", k.name, version, minKEKValueLen)
	}
	raw := sha256.Sum256([]byte(value))
	block, err := aes.NewCipher(raw[:])
	if err != nil {
		return nil, fmt.Errorf("kek %s: %w", k.name, err)
	}
	a, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("kek %s: %w", k.name, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if old, ok := k.aeads[version]; ok {
		return old, nil
	}
	k.aeads[version] = a
	return a, nil
}

// create makes the secret with a first random KEK. A concurrent creator
// winning is fine: its KEK is the current one.
func (k *Keyring) create(ctx context.Context) error {
	_, err := k.api.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String(k.name),
		SecretString: aws.String(newKEK()),
		Description:  aws.String("paykeys envelope store: key-encryption keys (AWSCURRENT encrypts, AWSPREVIOUS until re-wrapped)"),
		KmsKeyId:     optional(k.KMSKeyID),
	})
	if err != nil && !isCode(err, "ResourceExistsException") {
		return fmt.Errorf("kek %s: create: %w", k.name, err)
	}
	return nil
}

// Labels returns the labelled KEK versions and their labels.
func (k *Keyring) Labels(ctx context.Context) (map[string][]string, error) {
	d, err := k.api.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(k.name)})
	if err != nil {
		return nil, fmt.Errorf("kek %s: describe: %w", k.name, kekNotFound(err))
	}
	return d.VersionIdsToStages, nil
}

// Previous returns the KEK version that still holds AWSPREVIOUS, or "".
func (k *Keyring) Previous(ctx context.Context) (string, error) {
	labels, err := k.Labels(ctx)
	if err != nil {
		return "", err
	}
	for v, stages := range labels {
		if slices.Contains(stages, StagePrevious) && !slices.Contains(stages, StageCurrent) {
			return v, nil
		}
	}
	return "", nil
}

// Rotate makes a new random KEK current; Secrets Manager moves AWSPREVIOUS
// onto the KEK it replaces. It refuses with ErrRewrapPending while an
// earlier previous KEK is not retired yet, so at most two are ever in use.
// It returns the new version's ID.
//
// The new version's ID (its ClientRequestToken) is derived from the version
// it replaces, so rotations that pass the check above at the same time (two
// runs of the lifecycle job) make one new KEK between them: the others'
// puts are refused (ResourceExistsException: the token exists with another
// value) and they fail with ErrRewrapPending. Two puts would move
// AWSPREVIOUS off the first KEK while ciphertexts are still sealed under
// it, out of reach of every listing and re-wrap.
func (k *Keyring) Rotate(ctx context.Context) (string, error) {
	cur, _, err := k.Current(ctx) // creates the secret on first use
	if err != nil {
		return "", err
	}
	prev, err := k.Previous(ctx)
	if err != nil {
		return "", err
	}
	if prev != "" {
		return "", fmt.Errorf("kek %s: rotate: %w (version %s)", k.name, ErrRewrapPending, prev)
	}
	next := successor(cur)
	out, err := k.api.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:           aws.String(k.name),
		ClientRequestToken: aws.String(next),
		SecretString:       aws.String(newKEK()),
		VersionStages:      []string{StageCurrent},
	})
	if isCode(err, "ResourceExistsException") {
		return "", fmt.Errorf("kek %s: rotate: %w (a concurrent rotation made version %s)", k.name, ErrRewrapPending, next)
	}
	if err != nil {
		return "", fmt.Errorf("kek %s: rotate: %w", k.name, kekNotFound(err))
	}
	return aws.ToString(out.VersionId), nil
}

// successor is the version ID of the KEK that replaces version: a UUID
// derived from it, the same for every rotation that starts from it.
func successor(version string) string {
	h := sha256.Sum256([]byte("paykeys kek successor\x00" + version))
	h[6] = h[6]&0x0f | 0x50 // a name-based UUID (version 5 layout)
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// Retire takes AWSPREVIOUS off version, once nothing is encrypted under it.
// The version's value stays readable by its ID, as Secrets Manager keeps
// unlabelled versions for a while, but nothing names it any more.
func (k *Keyring) Retire(ctx context.Context, version string) error {
	_, err := k.api.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
		SecretId:            aws.String(k.name),
		VersionStage:        aws.String(StagePrevious),
		RemoveFromVersionId: aws.String(version),
	})
	if err != nil {
		return fmt.Errorf("kek %s: retire version %s: %w", k.name, version, kekNotFound(err))
	}
	return nil
}

// created returns when KEK version was made, or the zero time when the
// secret does not list it.
func (k *Keyring) created(ctx context.Context, version string) (time.Time, error) {
	in := &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(k.name), MaxResults: aws.Int32(100)}
	for {
		out, err := k.api.ListSecretVersionIds(ctx, in)
		if err != nil {
			return time.Time{}, fmt.Errorf("kek %s: list versions: %w", k.name, kekNotFound(err))
		}
		for _, v := range out.Versions {
			if aws.ToString(v.VersionId) == version && v.CreatedDate != nil {
				return *v.CreatedDate, nil
			}
		}
		if aws.ToString(out.NextToken) == "" {
			return time.Time{}, nil
		}
		in.NextToken = out.NextToken
	}
}

func newKEK() string {
	b := make([]byte, KEKLen)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.StdEncoding.EncodeToString(b)
}

// kekNotFound turns "no such secret or version" into ErrNotFound.
func kekNotFound(err error) error {
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}
