// Package eventdoc is the AsyncAPI 3 document of the events the system
// publishes on NATS, and a validator that checks an event against the
// schema of its type.
package eventdoc

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed asyncapi.yaml
var document []byte

// YAML returns the AsyncAPI document as written.
func YAML() []byte { return bytes.Clone(document) }

// JSON returns the AsyncAPI document as JSON.
func JSON() ([]byte, error) {
	out, err := yaml.YAMLToJSON(document)
	if err != nil {
		return nil, fmt.Errorf("asyncapi.yaml: %w", err)
	}
	return out, nil
}

// Validator checks events against the payload schema of their type.
type Validator struct {
	schemas map[string]*jsonschema.Schema // event type -> schema
}

const docURL = "asyncapi.json"

// NewValidator compiles the schema of every message of the document.
func NewValidator() (*Validator, error) {
	raw, err := JSON()
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("asyncapi.json: %w", err)
	}
	var spec struct {
		Components struct {
			Messages map[string]struct {
				Name    string `json:"name"`
				Payload struct {
					Ref string `json:"$ref"`
				} `json:"payload"`
			} `json:"messages"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, fmt.Errorf("asyncapi.json: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(docURL, doc); err != nil {
		return nil, err
	}
	v := &Validator{schemas: map[string]*jsonschema.Schema{}}
	for key, m := range spec.Components.Messages {
		if m.Name == "" || !strings.HasPrefix(m.Payload.Ref, "#/") {
			return nil, fmt.Errorf("message %s: needs a name (the event type) and a local payload $ref", key)
		}
		s, err := c.Compile(docURL + m.Payload.Ref)
		if err != nil {
			return nil, fmt.Errorf("message %s: %w", key, err)
		}
		v.schemas[m.Name] = s
	}
	return v, nil
}

// Types lists the event types the document describes, sorted.
func (v *Validator) Types() []string {
	types := make([]string, 0, len(v.schemas))
	for t := range v.schemas {
		types = append(types, t)
	}
	sort.Strings(types)
	return types
}

// Validate checks one encoded event against the schema of its type.
func (v *Validator) Validate(raw []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("event is not JSON: %w", err)
	}
	obj, _ := inst.(map[string]any)
	typ, _ := obj["type"].(string)
	s, ok := v.schemas[typ]
	if !ok {
		return fmt.Errorf("event type %q is not in the AsyncAPI document", typ)
	}
	if err := s.Validate(inst); err != nil {
		return fmt.Errorf("%s: %w", typ, err)
	}
	return nil
}
