import { useEffect, useState } from "react";
import { clearToken, getToken, takeTokenFromLocation, tokenSubject } from "./api";
import { parseRoute, useHashPath } from "./router";
import { SignIn } from "./pages/SignIn";
import { GraphsPage } from "./pages/Graphs";
import { GraphPage } from "./pages/GraphView";
import { RunPage } from "./pages/RunView";
import { RunsPage } from "./pages/Runs";
import { ReviewsPage } from "./pages/Reviews";
import { CreditsPage } from "./pages/Credits";
import { SchedulesPage } from "./pages/Schedules";
import { PresetsPage } from "./pages/Presets";

function useToken(): string | null {
  const [token, setTokenState] = useState(getToken);
  useEffect(() => {
    const update = () => setTokenState(getToken());
    const fromHash = () => takeTokenFromLocation(); // a login link opened in a tab already showing the app
    window.addEventListener("agentloom:token", update);
    window.addEventListener("storage", update);
    window.addEventListener("hashchange", fromHash);
    return () => {
      window.removeEventListener("agentloom:token", update);
      window.removeEventListener("storage", update);
      window.removeEventListener("hashchange", fromHash);
    };
  }, []);
  return token;
}

const NAV: [string, string][] = [
  ["#/graphs", "Graphs"],
  ["#/runs", "Runs"],
  ["#/reviews", "Reviews"],
  ["#/schedules", "Schedules"],
  ["#/presets", "Presets"],
  ["#/credits", "Credits"],
];

export function App() {
  const token = useToken();
  const path = useHashPath();
  if (!token) return <SignIn />;
  const route = parseRoute(path);
  const section = route.page === "graph" || route.page === "run" ? "graphs" : route.page;
  return (
    <div className="app">
      <header className="top">
        <a className="brand" href="#/graphs">
          agentloom monitor
        </a>
        <nav>
          {NAV.map(([href, label]) => (
            <a key={href} href={href} className={href === `#/${section}` ? "active" : ""}>
              {label}
            </a>
          ))}
        </nav>
        <span className="user">
          <span data-testid="signed-in-user">{tokenSubject(token) ?? "(no sub)"}</span>
          <button data-testid="sign-out" onClick={() => clearToken()}>
            Sign out
          </button>
        </span>
      </header>
      <main>
        {route.page === "graphs" && <GraphsPage />}
        {route.page === "graph" && <GraphPage key={route.graphId} graphId={route.graphId} />}
        {route.page === "run" && <RunPage key={route.execId} graphId={route.graphId} execId={route.execId} />}
        {route.page === "runs" && <RunsPage />}
        {route.page === "reviews" && <ReviewsPage />}
        {route.page === "credits" && <CreditsPage />}
        {route.page === "schedules" && <SchedulesPage />}
        {route.page === "presets" && <PresetsPage />}
        {route.page === "missing" && <p className="error">Nothing at {route.path}</p>}
      </main>
    </div>
  );
}
