// pulumi-nodejs-codegen: the code generation toolchain/nodejs_host.py delegates to Pulumi's own Go
// codegen for TypeScript (github.com/pulumi/pulumi/pkg/v3/codegen/nodejs, at the CLI's version), so
// that `pulumi package add` and `pulumi package gen-sdk` write the SDK upstream's host would write.
//
// One request in protobuf JSON on stdin, one answer on stdout:
//
//	pulumi-nodejs-codegen generate-package   GeneratePackageRequest -> GeneratePackageResponse
//	                                         (the SDK's files are written under request.directory)
//	pulumi-nodejs-codegen link-names         LinkRequest -> {"packages": [{"package", "import"}, ...]}
//	                                         (the npm name of each package, and the name to import it as)
//
// Both read the schemas they need from the engine's schema loader (request.loaderTarget).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/pkg/v3/codegen/cgstrings"
	"github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

func main() {
	if len(os.Args) != 2 {
		fail(errors.New("usage: pulumi-nodejs-codegen generate-package|link-names < request.json"))
	}
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	var answer any
	switch os.Args[1] {
	case "generate-package":
		var req pulumirpc.GeneratePackageRequest
		if err = protojson.Unmarshal(input, &req); err == nil {
			answer, err = generatePackage(&req)
		}
	case "link-names":
		var req pulumirpc.LinkRequest
		if err = protojson.Unmarshal(input, &req); err == nil {
			answer, err = linkNames(context.Background(), &req)
		}
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
	var out []byte
	if msg, ok := answer.(proto.Message); ok {
		out, err = protojson.Marshal(msg)
	} else {
		out, err = json.Marshal(answer)
	}
	if err != nil {
		fail(err)
	}
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

// generatePackage binds the schema and writes the TypeScript SDK, as a language host's
// GeneratePackage does; binding errors are answered as diagnostics, not as a failure.
func generatePackage(req *pulumirpc.GeneratePackageRequest) (*pulumirpc.GeneratePackageResponse, error) {
	client, err := schema.NewLoaderClient(req.LoaderTarget)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	loader := schema.NewCachedLoader(client)

	var spec schema.PackageSpec
	if err := json.Unmarshal([]byte(req.Schema), &spec); err != nil {
		return nil, fmt.Errorf("the package schema: %w", err)
	}
	pkg, diags, err := schema.BindSpec(spec, loader, schema.ValidationOptions{AllowDanglingReferences: true})
	if err != nil {
		return nil, err
	}
	answer := &pulumirpc.GeneratePackageResponse{Diagnostics: plugin.HclDiagnosticsToRPCDiagnostics(diags)}
	if diags.HasErrors() {
		return answer, nil
	}
	files, err := nodejs.GeneratePackage("pulumi-language-nodejs", pkg, req.ExtraFiles, req.LocalDependencies,
		req.Local, loader)
	if err != nil {
		return nil, err
	}
	for name, data := range files {
		path := filepath.Join(req.Directory, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, err
		}
	}
	return answer, nil
}

type linked struct {
	Package string `json:"package"`
	Import  string `json:"import"`
}

// linkNames resolves each package to link to its npm name: the schema's language.nodejs.packageName,
// else @NAMESPACE/NAME, else @pulumi/NAME (the names the generated package.json carries).
func linkNames(ctx context.Context, req *pulumirpc.LinkRequest) (map[string][]linked, error) {
	client, err := schema.NewLoaderClient(req.LoaderTarget)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	loader := schema.NewCachedLoader(client)

	names := []linked{}
	for _, dep := range req.Packages {
		ref, err := schema.LoadPackageReferenceV2(ctx, loader, descriptor(dep.Package))
		if err != nil {
			return nil, err
		}
		pkg, err := ref.Definition()
		if err != nil {
			return nil, err
		}
		if err := pkg.ImportLanguages(map[string]schema.Language{"nodejs": nodejs.Importer}); err != nil {
			return nil, err
		}
		name := "@pulumi/" + pkg.Name
		if pkg.Namespace != "" {
			name = "@" + pkg.Namespace + "/" + pkg.Name
		}
		if info, ok := pkg.Language["nodejs"].(nodejs.NodePackageInfo); ok && info.PackageName != "" {
			name = info.PackageName
		}
		names = append(names, linked{Package: name, Import: cgstrings.Camel(ref.Name())})
	}
	return map[string][]linked{"packages": names}, nil
}

// descriptor is the loader's view of a package the CLI asks to link (an unparsable version is left out).
func descriptor(p *pulumirpc.PackageDependency) *schema.PackageDescriptor {
	d := &schema.PackageDescriptor{Name: p.Name, DownloadURL: p.Server}
	if v, err := semver.New(p.Version); err == nil {
		d.Version = v
	}
	if param := p.Parameterization; param != nil {
		d.Parameterization = &schema.ParameterizationDescriptor{Name: param.Name, Value: param.Value}
		if v, err := semver.New(param.Version); err == nil {
			d.Parameterization.Version = *v
		}
	}
	return d
}
