import { ErrorText, Section } from "../components/Bits";
import { ReviewList } from "../components/ReviewList";
import { useGet } from "../hooks";
import type { PendingReview } from "../types";

export function ReviewsPage() {
  const pending = useGet<PendingReview[]>("/api/review/pending?page_size=100");
  return (
    <Section title="Waiting for your review" actions={<button onClick={pending.reload}>Refresh</button>}>
      <ErrorText error={pending.error} />
      {pending.data && <ReviewList reviews={pending.data} onDone={pending.reload} />}
    </Section>
  );
}
