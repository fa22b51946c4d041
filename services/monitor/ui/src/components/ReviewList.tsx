import { useState } from "react";
import { post } from "../api";
import { formatTime, useAction } from "../hooks";
import type { PendingReview } from "../types";
import { ErrorText, JsonView } from "./Bits";

function ReviewRow({ review, onDone }: { review: PendingReview & Record<string, unknown>; onDone: () => void }) {
  const [message, setMessage] = useState("");
  const action = useAction();
  const waiting = !review.status || review.status === "WAITING";
  const decide = async (approved: boolean) => {
    const ok = await action.run(() =>
      post("/api/review/action", { reviews: [{ node_exec_id: review.node_exec_id, approved, message: message || null }] }),
    );
    if (ok !== undefined) onDone();
  };
  return (
    <div className="review" data-testid="review-row" data-node-exec-id={review.node_exec_id}>
      <div className="row">
        <strong>{review.kind}</strong>
        <span className="muted">
          run{" "}
          <a href={`#/graphs/${String(review.graph_id ?? "")}/runs/${review.graph_exec_id}`}>
            <code>{review.graph_exec_id.slice(0, 8)}</code>
          </a>{" "}
          · node <code>{String(review.node_id ?? "").slice(0, 8)}</code> · {formatTime(review.created_at as string)}
        </span>
        <span className={`badge review-${review.status ?? "WAITING"}`}>{review.status ?? "WAITING"}</span>
      </div>
      {review.instructions ? <p>{review.instructions}</p> : null}
      <JsonView value={review.payload} />
      {waiting && (
        <div className="row">
          <input placeholder="message (optional)" value={message} onChange={(e) => setMessage(e.target.value)} />
          <button data-testid="review-approve" disabled={action.busy} onClick={() => void decide(true)}>
            Approve
          </button>
          <button data-testid="review-reject" className="danger" disabled={action.busy} onClick={() => void decide(false)}>
            Reject
          </button>
        </div>
      )}
      <ErrorText error={action.error} />
    </div>
  );
}

export function ReviewList({ reviews, onDone }: { reviews: PendingReview[]; onDone: () => void }) {
  if (reviews.length === 0) return <p className="hint">No reviews.</p>;
  return (
    <div className="stack">
      {reviews.map((r) => (
        <ReviewRow key={r.node_exec_id} review={r as PendingReview & Record<string, unknown>} onDone={onDone} />
      ))}
    </div>
  );
}
