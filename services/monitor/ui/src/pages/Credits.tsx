import { ErrorText, Section } from "../components/Bits";
import { formatTime, useGet } from "../hooks";

interface Transaction {
  transaction_key: string;
  transaction_time: string;
  transaction_type: string;
  amount: number;
  running_balance: number;
  description: string | null;
  usage_graph_id: string | null;
  usage_execution_id: string | null;
  reason?: string | null;
}

export function CreditsPage() {
  const balance = useGet<{ credits: number }>("/api/credits");
  const history = useGet<{ transactions: Transaction[] }>("/api/credits/transactions?transaction_count_limit=100");
  return (
    <div className="stack">
      <Section title="Credits" actions={<button onClick={() => (balance.reload(), history.reload())}>Refresh</button>}>
        <ErrorText error={balance.error} />
        <p className="balance">
          Balance: <strong data-testid="credits-balance">{balance.data ? balance.data.credits : "…"}</strong>
        </p>
      </Section>
      <Section title="Transactions">
        <ErrorText error={history.error} />
        {history.data && history.data.transactions.length === 0 && <p className="hint">No transactions.</p>}
        {history.data && history.data.transactions.length > 0 && (
          <table className="list">
            <thead>
              <tr>
                <th>Time</th>
                <th>Type</th>
                <th>Amount</th>
                <th>Balance</th>
                <th>What</th>
              </tr>
            </thead>
            <tbody>
              {history.data.transactions.map((t) => (
                <tr key={t.transaction_key} data-testid="transaction-row">
                  <td>{formatTime(t.transaction_time)}</td>
                  <td>{t.transaction_type}</td>
                  <td className={t.amount < 0 ? "neg" : "pos"}>{t.amount}</td>
                  <td>{t.running_balance}</td>
                  <td>
                    {t.usage_execution_id && t.usage_graph_id ? (
                      <a href={`#/graphs/${t.usage_graph_id}/runs/${t.usage_execution_id}`}>
                        run <code>{t.usage_execution_id.slice(0, 8)}</code>
                      </a>
                    ) : (
                      t.reason || t.description
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </div>
  );
}
