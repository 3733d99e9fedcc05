package mongostore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// jsonToBSON converts a JSON object to a BSON document, keeping its members
// in order and reading nothing into them: unlike Extended JSON parsing, a
// member named "$date" stays a plain member. Integers become int64 and other
// numbers doubles.
func jsonToBSON(data []byte) (bson.Raw, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the JSON object")
	}
	doc, ok := v.(bson.D)
	if !ok {
		return nil, errors.New("not a JSON object")
	}
	raw, err := bson.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode BSON: %w", err)
	}
	return raw, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			doc := bson.D{}
			for dec.More() {
				key, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				doc = append(doc, bson.E{Key: key.(string), Value: v})
			}
			_, err := dec.Token() // '}'
			return doc, err
		case '[':
			arr := bson.A{}
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			_, err := dec.Token() // ']'
			return arr, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case json.Number:
		if i, err := strconv.ParseInt(string(t), 10, 64); err == nil {
			return i, nil
		}
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil {
			return nil, fmt.Errorf("number %s is out of range", t)
		}
		return f, nil
	default: // string, bool or nil
		return t, nil
	}
}

// bsonToJSON converts a stored data document back to JSON. Documents written
// by jsonToBSON hold only JSON types, which relaxed Extended JSON renders as
// plain JSON.
func bsonToJSON(raw bson.Raw) (json.RawMessage, error) {
	if len(raw) == 0 {
		return json.RawMessage("null"), nil
	}
	b, err := bson.MarshalExtJSON(raw, false, false)
	if err != nil {
		return nil, fmt.Errorf("decode BSON: %w", err)
	}
	return b, nil
}
