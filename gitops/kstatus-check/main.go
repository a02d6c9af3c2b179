// kstatus-check prints the kstatus status (Current, InProgress, Failed, Terminating, ...) that Flux and
// cli-utils compute for Kubernetes objects, with the real library.
//
//	kubectl get emrcluster my-cluster -o json | kstatus-check
//	kstatus-check -o json < objects.yaml
//
// Input: JSON or YAML on stdin: one object, several YAML documents, or a List (`kubectl get -o json`).
// Output: one line per object "<kind>/<name>\t<status>\t<message>", or a JSON array with -o json.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// result is what one object's status is, in the JSON output.
type result struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

// readObjects decodes every object of a JSON/YAML stream, flattening Lists.
func readObjects(r io.Reader) ([]*unstructured.Unstructured, error) {
	decoder := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	var objects []*unstructured.Unstructured
	for {
		var raw json.RawMessage
		if err := decoder.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return objects, nil
			}
			return nil, fmt.Errorf("reading objects from stdin: %w", err)
		}
		if len(raw) == 0 || string(raw) == "null" {
			continue // an empty YAML document
		}
		// The unstructured JSON scheme keeps integers int64, as the API server sends them (kstatus needs that).
		decoded, _, err := unstructured.UnstructuredJSONScheme.Decode(raw, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("reading objects from stdin: %w", err)
		}
		if list, ok := decoded.(*unstructured.UnstructuredList); ok {
			for i := range list.Items {
				objects = append(objects, &list.Items[i])
			}
			continue
		}
		obj, ok := decoded.(*unstructured.Unstructured)
		if !ok {
			return nil, fmt.Errorf("reading objects from stdin: unexpected %T", decoded)
		}
		objects = append(objects, obj)
	}
}

func compute(objects []*unstructured.Unstructured) ([]result, error) {
	results := make([]result, 0, len(objects))
	for _, obj := range objects {
		res, err := status.Compute(obj)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", obj.GetKind(), obj.GetName(), err)
		}
		results = append(results, result{
			Kind: obj.GetKind(), Name: obj.GetName(), Status: res.Status.String(), Message: res.Message,
		})
	}
	return results, nil
}

func main() {
	output := flag.String("o", "text", "output format: text or json")
	flag.Parse()
	if *output != "text" && *output != "json" {
		fmt.Fprintf(os.Stderr, "kstatus-check: -o must be text or json, not %q\n", *output)
		os.Exit(2)
	}
	objects, err := readObjects(os.Stdin)
	if err == nil && len(objects) == 0 {
		err = errors.New("no object on stdin: pipe YAML or JSON, e.g. kubectl get emrcluster NAME -o json | kstatus-check")
	}
	var results []result
	if err == nil {
		results, err = compute(objects)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "kstatus-check: %v\n", err)
		os.Exit(1)
	}
	if *output == "json" {
		out, _ := json.MarshalIndent(results, "", "  ")
		fmt.Println(string(out))
		return
	}
	for _, r := range results {
		fmt.Printf("%s/%s\t%s\t%s\n", r.Kind, r.Name, r.Status, r.Message)
	}
}
