// gopher-lua-check runs an Argo CD health script with gopher-lua, the Lua Argo CD embeds, the way Argo CD's
// util/lua runs it: only the package, base and table libraries, the object as the global `obj` (numbers as
// Lua numbers, lists as arrays), and the returned table's status and message read back.
//
//	gopher-lua-check health.lua testdata/a.yaml testdata/b.yaml
//
// Prints one JSON line per object: {"input": "...", "status": "...", "message": "..."}.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	lua "github.com/yuin/gopher-lua"
	"sigs.k8s.io/yaml"
)

type result struct {
	Input   string `json:"input"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

// decodeValue turns the object's JSON values into Lua values, as Argo CD's util/lua decodeValue does.
func decodeValue(l *lua.LState, value interface{}) lua.LValue {
	switch v := value.(type) {
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case bool:
		return lua.LBool(v)
	case []interface{}:
		arr := l.CreateTable(len(v), 0)
		for _, item := range v {
			arr.Append(decodeValue(l, item))
		}
		return arr
	case map[string]interface{}:
		tbl := l.CreateTable(0, len(v))
		for key, item := range v {
			tbl.RawSetH(lua.LString(key), decodeValue(l, item))
		}
		return tbl
	}
	return lua.LNil
}

func run(script string, obj map[string]interface{}) (string, string, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for name, open := range map[string]lua.LGFunction{
		lua.LoadLibName: lua.OpenPackage, lua.BaseLibName: lua.OpenBase, lua.TabLibName: lua.OpenTable,
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(open), NRet: 0, Protect: true}, lua.LString(name)); err != nil {
			return "", "", err
		}
	}
	l.SetGlobal("obj", decodeValue(l, obj))
	if err := l.DoString(script); err != nil {
		return "", "", err
	}
	table, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return "", "", fmt.Errorf("the script returned %s, not a table", l.Get(-1).Type())
	}
	str := func(key string) string {
		if s, ok := table.RawGetString(key).(lua.LString); ok {
			return string(s)
		}
		return ""
	}
	return str("status"), str("message"), nil
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: gopher-lua-check health.lua object.yaml...")
		os.Exit(2)
	}
	script, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "gopher-lua-check: %v\n", err)
		os.Exit(1)
	}
	for _, path := range os.Args[2:] {
		data, err := os.ReadFile(path)
		obj := map[string]interface{}{}
		if err == nil {
			err = yaml.Unmarshal(data, &obj)
		}
		var status, message string
		if err == nil {
			status, message, err = run(string(script), obj)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "gopher-lua-check: %s: %v\n", path, err)
			os.Exit(1)
		}
		line, _ := json.Marshal(result{Input: path, Status: status, Message: message})
		fmt.Println(string(line))
	}
}
