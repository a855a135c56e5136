use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tasks {
    Table,
    Id,
    Title,
    Description,
    Status,
    DueDate,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tasks::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Tasks::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Tasks::Title).string_len(800).not_null())
                    .col(ColumnDef::new(Tasks::Description).text().null())
                    .col(
                        ColumnDef::new(Tasks::Status)
                            .string_len(16)
                            .not_null()
                            .default("todo")
                            .check(Expr::col(Tasks::Status).is_in(["todo", "in_progress", "done"])),
                    )
                    .col(ColumnDef::new(Tasks::DueDate).date().null())
                    .col(
                        ColumnDef::new(Tasks::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Tasks::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // Listing by status pages in id order.
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_tasks_status_id")
                    .table(Tasks::Table)
                    .col(Tasks::Status)
                    .col(Tasks::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Tasks::Table).to_owned())
            .await
    }
}
