// A Go service calling Tessera over gRPC with stubs generated from proto/ (protoc-gen-go, protoc-gen-go-grpc):
// client credentials, a token exchange, and the OAuthError detail of a refused call.
// Run from the repository root after `buf generate --template examples/go/buf.gen.yaml`:
//
//	cd examples/go && TESSERA_GRPC=127.0.0.1:8080 go run .
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log"
	"net/url"
	"os"
	"time"

	exchangev1 "tessera.example/go-client/gen/tessera/exchange/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// basic is client_secret_basic as gRPC metadata (RFC 6749 §2.3.1: id and secret form-urlencoded first).
func basic(ctx context.Context, clientID, secret string) context.Context {
	pair := url.QueryEscape(clientID) + ":" + url.QueryEscape(secret)
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(pair)))
}

func main() {
	address := os.Getenv("TESSERA_GRPC")
	if address == "" {
		address = "127.0.0.1:8080"
	}
	conn, err := grpc.NewClient(address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	client := exchangev1.NewTokenExchangeServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	own, err := client.ClientCredentials(basic(ctx, "gateway", "gateway-secret"), &exchangev1.ClientCredentialsRequest{Realm: "demo", Scope: "orders.read"})
	if err != nil {
		log.Fatal(err)
	}
	exchanged, err := client.ExchangeToken(basic(ctx, "gateway", "gateway-secret"), &exchangev1.ExchangeTokenRequest{
		Realm:            "demo",
		SubjectToken:     own.AccessToken,
		SubjectTokenType: "urn:ietf:params:oauth:token-type:access_token",
		Audience:         []string{"orders-api"},
	})
	if err != nil {
		log.Fatal(err)
	}

	// A refusal: the gRPC status carries the OAuth error as a tessera.exchange.v1.OAuthError detail.
	_, err = client.ClientCredentials(basic(ctx, "gateway", "wrong-secret"), &exchangev1.ClientCredentialsRequest{Realm: "demo"})
	refusal := map[string]string{}
	if st, ok := status.FromError(err); ok && err != nil {
		refusal["code"] = st.Code().String()
		for _, detail := range st.Details() {
			if oauth, ok := detail.(*exchangev1.OAuthError); ok {
				refusal["error"] = oauth.Error
				refusal["error_description"] = oauth.ErrorDescription
			}
		}
	}
	out, _ := json.Marshal(map[string]any{
		"issued_token_type": exchanged.IssuedTokenType,
		"scope":             exchanged.Scope,
		"expires_in":        exchanged.ExpiresIn,
		"refusal":           refusal,
	})
	fmt.Println(string(out))
}
