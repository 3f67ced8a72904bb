// `pnpm stages`: the stages there are, and the command that runs each. What a learner needs after
// `pnpm --filter step-8 start` fails with "No projects matched the filters".
import { listStages } from '../repo.ts';

if (import.meta.main) {
  for (const stage of listStages()) {
    console.log(`${stage.name}  ${stage.description}`);
    for (const script of stage.scripts) console.log(`         pnpm --filter ${stage.name} ${script}`);
  }
}
