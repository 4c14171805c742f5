package config

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// Line returns the line of the value at path (map keys as strings, list
// indexes as ints) in the config file, or 0 when unknown.
func (c *Config) Line(path ...any) int {
	if c.Root == nil || len(c.Root.Content) == 0 {
		return 0
	}
	n := c.Root.Content[0]
	line := 0
	for _, p := range path {
		next := child(n, p)
		if next == nil {
			break
		}
		n, line = next, next.Line
	}
	return line
}

func child(n *yaml.Node, p any) *yaml.Node {
	switch k := p.(type) {
	case string:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				return n.Content[i+1]
			}
		}
	case int:
		if n.Kind == yaml.SequenceNode && k < len(n.Content) {
			return n.Content[k]
		}
	}
	return nil
}

// errAt builds an error located at the value of path.
func (c *Config) errAt(format string, path []any, args ...any) error {
	return &Error{File: c.File, Line: c.Line(path...), Msg: fmt.Sprintf(format, args...)}
}
