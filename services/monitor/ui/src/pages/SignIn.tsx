import { useState, type FormEvent } from "react";
import { setToken, tokenSubject } from "../api";

export function SignIn() {
  const [value, setValue] = useState("");
  const [error, setError] = useState<string | null>(null);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const token = value.trim();
    if (!token) return setError("Paste a token first.");
    if (!tokenSubject(token)) return setError("That does not look like a JWT with a 'sub' claim.");
    setToken(token);
  };
  return (
    <div className="signin">
      <h1>agentloom monitor</h1>
      <p>
        Open the login link <code>agentloom up</code> prints, or paste a token (
        <code>agentloom token --user ID</code>).
      </p>
      <form onSubmit={submit}>
        <textarea
          data-testid="token-input"
          rows={4}
          value={value}
          placeholder="eyJhbGciOi…"
          onChange={(e) => setValue(e.target.value)}
        />
        <button data-testid="sign-in" type="submit">
          Sign in
        </button>
      </form>
      {error && <p className="error">{error}</p>}
    </div>
  );
}
